// A sensor logger: subscribed to the climate sensors' events, it keeps min / max / mean per
// minute and emits climate:summary with them; every tenth sample is logged.
import { Event, events, emit, JsonObject, log, timer } from "../../../../runtime/sdk/assemblyscript/index";
export { alloc, on_event } from "../../../../runtime/sdk/assemblyscript/index";

class Stats {
  n: i32 = 0;
  sum: f64 = 0;
  min: f64 = Infinity;
  max: f64 = -Infinity;
  add(v: f64): void {
    this.n++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }
  json(): string {
    return new JsonObject().int("n", this.n).num("min", this.min).num("max", this.max).num("mean", this.n > 0 ? this.sum / this.n : NaN).toString();
  }
}

let temperature = new Stats();
let humidity = new Stats();
let pressure = new Stats();
let samples: i32 = 0;

export function init(): void {
  events.on(handle);
  timer.every("summary", 60000);
}

function handle(e: Event): void {
  const type = e.type;
  if (type == "timer:summary") {
    emit("climate:summary", new JsonObject().raw("temperature", temperature.json()).raw("humidity", humidity.json()).raw("pressure", pressure.json()).toString());
    temperature = new Stats();
    humidity = new Stats();
    pressure = new Stats();
    return;
  }
  const v = e.number("value");
  if (isNaN(v)) return;
  if (type == "hal:sensor.temperature") temperature.add(v);
  else if (type == "hal:sensor.humidity") humidity.add(v);
  else if (type == "hal:sensor.pressure") pressure.add(v);
  if (++samples % 10 == 0) log.info(type.slice(11) + " " + v.toString() + " " + e.string("unit"));
}
