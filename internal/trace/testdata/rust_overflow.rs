// A Rust thread with a 256 KiB stack recursing without end: Rust's SIGSEGV
// handler (on an alternate signal stack) finds the fault in the thread's
// guard page, prints "thread 'deep' has overflowed its stack" and aborts.
// Build: rustc -C opt-level=0 -g rust_overflow.rs
use std::thread;

fn dive(n: u64) -> u64 {
    // A volatile read keeps the array (and the frame) at opt-level 0 or not,
    // and needs nothing newer than Debian 12's rustc 1.63.
    let pad = [n as u8; 512];
    let b = unsafe { std::ptr::read_volatile(&pad[(n % 512) as usize]) };
    dive(n + 1) + b as u64
}

fn main() {
    println!("start");
    let h = thread::Builder::new()
        .name("deep".into())
        .stack_size(256 * 1024)
        .spawn(|| dive(0))
        .unwrap();
    println!("{}", h.join().unwrap());
}
