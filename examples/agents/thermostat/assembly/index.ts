// A thermostat: every 2 s it reads the temperature from the HAL's mirror (no waiting), switches
// the fan on above MAX_C and off HYSTERESIS below it, and emits thermostat:switched when it does.
// Its state (fan, switch count) is pushed as a snapshot; after a restart `restore` brings it back.
// The fan itself is not trusted from the snapshot: when an instance ends, the HAL returns its
// actuators to their safe state, so after a restore the first check asserts the wanted state.
import { errorName, Event, events, emit, hal, JsonObject, json, lifecycle, log, state, timer } from "../../../../runtime/sdk/assemblyscript/index";
export { alloc, on_event, restore } from "../../../../runtime/sdk/assemblyscript/index";

const MAX_C: f64 = 24.0;
const HYSTERESIS: f64 = 2.0;

let fanOn = false;
let switches: i32 = 0;
let lastC: f64 = NaN;
let pending: i32 = 0;
let wantOn = false;
let resync = true;

export function init(): void {
  events.on(handle);
  lifecycle.onRestore(onRestore);
  timer.every("check", 2000);
}

function onRestore(snapshot: string): void {
  const fan = json.get(snapshot, "fan");
  const n = json.get(snapshot, "switches");
  if (n != null) switches = I32.parseInt(n);
  log.info("restored: " + switches.toString() + " switches so far (fan was " + (fan == "true" ? "on" : "off") + ")");
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
      if (fanOn != wantOn) {
        switches++;
        log.info("fan " + (wantOn ? "on" : "off") + " at " + lastC.toString() + " C");
        emit("thermostat:switched", new JsonObject().bool("fan", wantOn).num("celsius", lastC).toString());
      }
      fanOn = wantOn;
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
  if (resync) log.info("watching: " + lastC.toString() + " C now; fan on above " + MAX_C.toString() + ", off below " + (MAX_C - HYSTERESIS).toString());
  const want = lastC > MAX_C ? true : lastC < MAX_C - HYSTERESIS ? false : fanOn;
  if ((want != fanOn || resync) && pending == 0) {
    resync = false;
    wantOn = want;
    const rc = hal.actuate("fan", want ? "on" : "off");
    if (rc > 0) pending = rc;
    else log.warn("fan refused: " + errorName(rc));
  }
  push();
}
