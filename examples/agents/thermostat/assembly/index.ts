// A thermostat: every 2 s it reads the temperature from the HAL's mirror (no waiting), switches
// the fan on above MAX_C and off HYSTERESIS below it, and emits thermostat:switched when it does.
// Its state (fan, switch count) is pushed as a snapshot; after a restart `restore` brings it back.
import { errorName, Event, events, emit, hal, JsonObject, json, lifecycle, log, state, timer } from "../../../../runtime/sdk/assemblyscript/index";
export { alloc, on_event, restore } from "../../../../runtime/sdk/assemblyscript/index";

const MAX_C: f64 = 24.0;
const HYSTERESIS: f64 = 2.0;

let fanOn = false;
let switches: i32 = 0;
let lastC: f64 = NaN;
let pending: i32 = 0;
let wantOn = false;

export function init(): void {
  events.on(handle);
  lifecycle.onRestore(onRestore);
  timer.every("check", 2000);
}

function onRestore(snapshot: string): void {
  const fan = json.get(snapshot, "fan");
  const n = json.get(snapshot, "switches");
  if (fan != null) fanOn = fan == "true";
  if (n != null) switches = I32.parseInt(n);
  log.info("restored: fan " + (fanOn ? "on" : "off") + ", " + switches.toString() + " switches so far");
}

function push(): void {
  state.set(new JsonObject().bool("fan", fanOn).int("switches", switches).num("lastC", lastC).num("maxC", MAX_C).toString());
}

function handle(e: Event): void {
  const type = e.type;
  if (type == "timer:check") check();
  else if (type == "hal:result" && e.number("requestId") == <f64>pending) {
    pending = 0;
    if (e.bool("ok")) {
      fanOn = wantOn;
      switches++;
      log.info("fan " + (fanOn ? "on" : "off") + " at " + lastC.toString() + " C");
      emit("thermostat:switched", new JsonObject().bool("fan", fanOn).num("celsius", lastC).toString());
      push();
    } else log.warn("fan: " + e.string("code") + ": " + e.string("message"));
  }
}

function check(): void {
  const r = hal.read("temperature");
  if (r == null) {
    log.debug("no temperature yet: " + errorName(hal.lastError));
    return;
  }
  lastC = r.value;
  const want = lastC > MAX_C ? true : lastC < MAX_C - HYSTERESIS ? false : fanOn;
  if (want != fanOn && pending == 0) {
    wantOn = want;
    const rc = hal.actuate("fan", want ? "on" : "off");
    if (rc > 0) pending = rc;
    else log.warn("fan refused: " + errorName(rc));
  }
  push();
}
