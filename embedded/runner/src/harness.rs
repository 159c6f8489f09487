//! What every test uses: the comparison with the host's values, the instruction counter and the
//! stack painter. (`unsafe` is allowed in this runner, never in the library.)

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SYST};
use cortex_m_rt::exception;

/// A test: its name and the function that runs it.
pub type Test = (&'static str, fn() -> Result<Report, &'static str>);

/// What a test measured; it passes when `error <= tolerance`.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    /// Largest relative error against the host's values (see [`Errors`]).
    pub error: f32,
    /// The test's tolerance on `error`.
    pub tolerance: f32,
    /// Instructions executed by the measured library call, if the counter is calibrated.
    pub instructions: Option<u64>,
}

/// Accumulates the largest relative error of a test's outputs against the host's.
///
/// A field (array) is compared relative to its largest expected magnitude,
/// `max_i |got_i − exp_i| / max_i |exp_i|` (per-element relative errors are meaningless where a
/// drift crosses zero); a scalar relative to the scale it is given.
pub struct Errors {
    max: f32,
}

impl Errors {
    pub const fn new() -> Self {
        Self { max: 0.0 }
    }

    /// Compares a field; a length mismatch or a NaN counts as an infinite error.
    pub fn field(&mut self, got: &[f32], expected: &[f32]) -> &mut Self {
        let scale = expected.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let mut worst = if got.len() == expected.len() {
            0.0f32
        } else {
            f32::INFINITY
        };
        for (g, e) in got.iter().zip(expected) {
            let err = (g - e).abs() / scale.max(f32::MIN_POSITIVE);
            worst = if err.is_nan() {
                f32::INFINITY
            } else {
                worst.max(err)
            };
        }
        self.max = self.max.max(worst);
        self
    }

    /// Compares a scalar relative to `scale` (its own magnitude if `scale` is 0).
    pub fn scalar(&mut self, got: f32, expected: f32, scale: f32) -> &mut Self {
        let scale = if scale > 0.0 { scale } else { expected.abs() };
        let err = (got - expected).abs() / scale.max(f32::MIN_POSITIVE);
        self.max = self.max.max(if err.is_nan() { f32::INFINITY } else { err });
        self
    }

    /// The report of a test with this tolerance and instruction count.
    pub fn report(&self, tolerance: f32, instructions: Option<u64>) -> Report {
        Report {
            error: self.max,
            tolerance,
            instructions,
        }
    }
}

/// Fails with `message` unless `got == expected` (iteration counts and flags).
pub fn same<T: PartialEq>(got: T, expected: T, message: &'static str) -> Result<(), &'static str> {
    if got == expected {
        Ok(())
    } else {
        Err(message)
    }
}

/// Maps a library error to a failure message, printing the error.
pub fn lib<T>(result: Result<T, drifting::Error>) -> Result<T, &'static str> {
    result.map_err(|e| {
        cortex_m_semihosting::hprintln!("    library error: {:?}", e);
        "the library returned an error"
    })
}

// ------------------------------------------------------------------ instruction counter
//
// SysTick counts down from 2^24 − 1 at the core clock; its wrap interrupt extends it to 64 bits.
// Under `qemu-system-arm -icount shift=0` the virtual clock advances 1 ns per instruction, so the
// count is an instruction count once calibrated against a loop of known length (QEMU does not
// implement the DWT cycle counter, and ARMv6-M has none).

const RELOAD: u32 = 0x00FF_FFFF;
static WRAPS: AtomicU32 = AtomicU32::new(0);
/// Instructions per 2^16 ticks (0: not calibrated).
static INSNS_PER_TICK_Q16: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    // Only this handler writes WRAPS (no read-modify-write atomics on ARMv6-M).
    WRAPS.store(WRAPS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

/// Ticks since `init_counter`.
fn ticks() -> u64 {
    loop {
        let wraps = WRAPS.load(Ordering::Relaxed);
        let current = SYST::get_current();
        // A wrap between the two loads (its handler runs at once) makes us read again.
        if WRAPS.load(Ordering::Relaxed) == wraps {
            return u64::from(wraps) * u64::from(RELOAD + 1) + u64::from(RELOAD - current);
        }
    }
}

/// `iterations` trips of a two-instruction loop (`subs`, `bne`).
#[inline(never)]
fn known_loop(iterations: u32) {
    // SAFETY: register-only loop.
    unsafe {
        core::arch::asm!("3:", "subs {0}, {0}, #1", "bne 3b", inout(reg) iterations => _,
            options(nomem, nostack));
    }
}

/// Starts SysTick and calibrates it; returns instructions per tick (0 if the clock is stopped).
pub fn init_counter(mut syst: SYST) -> f32 {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
    // The counter reads 0 until its first reload; wait for it (bounded: the clock may be stopped).
    let mut spins = 0u32;
    while SYST::get_current() == 0 && spins < 100_000 {
        spins += 1;
    }
    const LOOPS: u32 = 1 << 18;
    let (t0, _) = (ticks(), known_loop(1));
    let t1 = ticks();
    known_loop(LOOPS + 1);
    let t2 = ticks();
    // Both runs share the call overhead: the difference is exactly 2·LOOPS instructions.
    let delta = (t2 - t1).saturating_sub(t1 - t0);
    if delta == 0 {
        return 0.0;
    }
    let q16 = ((2 * u64::from(LOOPS)) << 16) / delta;
    INSNS_PER_TICK_Q16.store(q16 as u32, Ordering::Relaxed);
    q16 as f32 / 65536.0
}

/// Runs `f` and returns its result and the instructions it executed (within one tick).
#[inline(never)]
pub fn count<T>(f: impl FnOnce() -> T) -> (T, Option<u64>) {
    let start = ticks();
    let result = f();
    let elapsed = ticks() - start;
    let q16 = u64::from(INSNS_PER_TICK_Q16.load(Ordering::Relaxed));
    (result, (q16 > 0).then(|| (elapsed * q16) >> 16))
}

// ------------------------------------------------------------------ stack painting

extern "C" {
    static _stack_start: u32; // top of RAM: initial stack pointer
    static _stack_end: u32; // end of .bss/.data/.uninit: the stack may grow down to here
}

const PAINT: u32 = 0x5EED_F00D;
/// Most bytes painted (RAM is 4 MB on mps2-an386; the deploy test needs 0.9 MB of it, the others
/// at most 60 KB; on the micro:bit the end of the statics bounds the window first).
const WINDOW: usize = 1024 * 1024;
/// Left unpainted below the painter's own stack pointer (its frame and anything it calls).
const MARGIN: usize = 256;

/// Stack top, and the lowest address the stack may reach.
pub fn stack_bounds() -> (usize, usize) {
    // Taking the address of an extern static is safe; its contents are never read.
    (
        core::ptr::addr_of!(_stack_start) as usize,
        core::ptr::addr_of!(_stack_end) as usize,
    )
}

/// Fills the free stack below the current frame with `PAINT`; returns the lowest painted address.
#[inline(never)]
pub fn paint_stack() -> usize {
    let (_, end) = stack_bounds();
    let sp = cortex_m::register::msp::read() as usize;
    let bottom = end.max(sp.saturating_sub(WINDOW)) & !3;
    let top = (sp - MARGIN) & !3;
    let mut p = bottom;
    while p < top {
        // SAFETY: [bottom, top) is free RAM between the statics and the live stack frames.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
    bottom
}

/// Peak stack use in bytes since reset, from the lowest overwritten word above `bottom`; the
/// flag says whether the whole painted window was used (the peak may then be larger).
#[inline(never)]
pub fn stack_high_water(bottom: usize) -> (usize, bool) {
    let (top, _) = stack_bounds();
    let mut p = bottom;
    // SAFETY: reads of the painted region, which is RAM.
    while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    (top - p, p == bottom)
}
