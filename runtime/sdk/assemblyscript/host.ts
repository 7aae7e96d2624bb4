// The host functions of WASM ABI v2 (docs/agent-abi.md), as AssemblyScript sees them. Agents use
// the typed wrappers in index.ts; these are the raw imports.

// @ts-ignore: decorator
@external("openstarry", "log")
export declare function log(level: i32, ptr: usize, len: i32): void;
// @ts-ignore: decorator
@external("openstarry", "emit")
export declare function emit(typePtr: usize, typeLen: i32, dataPtr: usize, dataLen: i32): i32;
// @ts-ignore: decorator
@external("openstarry", "now_ms")
export declare function now_ms(): f64;
// @ts-ignore: decorator
@external("openstarry", "hal_read")
export declare function hal_read(typePtr: usize, typeLen: i32, out: usize): i32;
// @ts-ignore: decorator
@external("openstarry", "hal_actuate")
export declare function hal_actuate(devPtr: usize, devLen: i32, cmdPtr: usize, cmdLen: i32): i32;
// @ts-ignore: decorator
@external("openstarry", "camera_frame")
export declare function camera_frame(devPtr: usize, devLen: i32): i32;
// @ts-ignore: decorator
@external("openstarry", "timer_set")
export declare function timer_set(namePtr: usize, nameLen: i32, ms: i32, repeat: i32): i32;
// @ts-ignore: decorator
@external("openstarry", "timer_clear")
export declare function timer_clear(namePtr: usize, nameLen: i32): i32;
// @ts-ignore: decorator
@external("openstarry", "tokens")
export declare function tokens(n: i32): void;
// @ts-ignore: decorator
@external("openstarry", "snapshot_set")
export declare function snapshot_set(ptr: usize, len: i32): i32;
// @ts-ignore: decorator
@external("openstarry", "trigger")
export declare function trigger(out: usize, outLen: i32): i32;
