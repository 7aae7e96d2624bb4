// A blinker: a timer toggles the LED once a second. Timer events reach an agent without a
// subscription (they are its own); hal:result says whether each toggle was applied.
import { errorName, Event, events, hal, log, timer } from "../../../../runtime/sdk/assemblyscript/index";
export { alloc, on_event } from "../../../../runtime/sdk/assemblyscript/index";

let toggles: i32 = 0;
let failures: i32 = 0;

export function init(): void {
  events.on(handle);
  timer.every("blink", 1000);
  log.info("blinking led every 1000 ms");
}

function handle(e: Event): void {
  const type = e.type;
  if (type == "timer:blink") {
    const rc = hal.actuate("led", "toggle");
    if (rc < 0) log.warn("led toggle refused: " + errorName(rc));
  } else if (type == "hal:result") {
    if (e.bool("ok")) toggles++;
    else if (++failures <= 3) log.warn("led: " + e.string("code") + ": " + e.string("message"));
    if (toggles % 60 == 0 && toggles > 0) log.info("toggled " + toggles.toString() + " times");
  }
}
