//! On-target tests of `drifting` under QEMU: every family of `tests::FAMILIES` runs on the
//! emulated core and is compared with the values the build script computed with the same library
//! on the host. Per test it prints the largest relative error and its tolerance, the
//! instructions of the library call and the peak stack; then `N passed, N failed`, the static RAM
//! and the overall stack high-water mark, and exits QEMU with the result (semihosting).
#![no_std]
#![no_main]

use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _; // a panic prints its message and exits QEMU with status 1

mod cases;
mod harness;
mod tests;

extern "C" {
    static __sdata: u32; // start of RAM statics (.data, then .bss, .uninit)
}

/// Whether QEMU implements the DWT cycle counter (Cortex-M4; ARMv6-M has none).
#[cfg(not(armv6m))]
fn probe_dwt(core: &mut cortex_m::Peripherals) -> &'static str {
    core.DCB.enable_trace();
    core.DWT.enable_cycle_counter();
    let a = cortex_m::peripheral::DWT::cycle_count();
    cortex_m::asm::delay(1000);
    let b = cortex_m::peripheral::DWT::cycle_count();
    if b != a {
        "counts"
    } else {
        "does not count under QEMU (not implemented)"
    }
}

#[cfg(armv6m)]
fn probe_dwt(_: &mut cortex_m::Peripherals) -> &'static str {
    "absent (ARMv6-M)"
}

#[entry]
fn main() -> ! {
    let Some(mut core) = cortex_m::Peripherals::take() else {
        hprintln!("core peripherals already taken");
        debug::exit(debug::EXIT_FAILURE);
        loop {
            cortex_m::asm::wfi();
        }
    };
    let dwt = probe_dwt(&mut core);
    let insns_per_tick = harness::init_counter(core.SYST);
    let (stack_top, stack_end) = harness::stack_bounds();
    let ram_start = core::ptr::addr_of!(__sdata) as usize; // the address only, never read
    hprintln!(
        "drifting on-target tests: {} points x {} data in {}D; SysTick {} instructions/tick (instruction counts need QEMU -icount shift=0), DWT CYCCNT {}",
        cases::N,
        cases::P,
        cases::D,
        insns_per_tick,
        dwt
    );

    let (mut passed, mut failed, mut peak) = (0u32, 0u32, 0usize);
    for (family, tests) in tests::FAMILIES {
        for (name, test) in tests.iter() {
            let bottom = harness::paint_stack();
            let result = test();
            let (stack, saturated) = harness::stack_high_water(bottom);
            peak = peak.max(stack);
            let more = if saturated { "+" } else { "" };
            match result {
                Ok(r) if r.error <= r.tolerance => {
                    passed += 1;
                    hprintln!(
                        "test {}::{} ... ok (max rel err {:.2e}, tol {:.0e}; {} instructions; stack {}{} B)",
                        family, name, r.error, r.tolerance, r.instructions.unwrap_or(0), stack, more
                    );
                }
                Ok(r) => {
                    failed += 1;
                    hprintln!(
                        "test {}::{} ... FAILED: max rel err {:.2e} > tol {:.0e}",
                        family,
                        name,
                        r.error,
                        r.tolerance
                    );
                }
                Err(message) => {
                    failed += 1;
                    hprintln!("test {}::{} ... FAILED: {}", family, name, message);
                }
            }
        }
    }
    hprintln!(
        "RAM: static {} B (.data+.bss), peak stack {} B, free at peak {} B of {} B",
        stack_end - ram_start,
        peak,
        stack_top - stack_end - peak,
        stack_top - ram_start
    );
    hprintln!("{} passed, {} failed", passed, failed);
    debug::exit(if failed == 0 {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("HardFault: {:?}", frame);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
