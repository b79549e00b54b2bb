//! [`Rational`]: the one shape of a ratio — time bases, frame rates, sample aspect ratios.
//!
//! Invariant: a `Rational` made by [`Rational::new`] is in lowest terms with `den > 0`. The
//! fields stay public so a value can be written as a literal; code that divides by `den`
//! takes its values from `new` or checks `den` first ([`Rational::as_f64`] gives `NaN` or an
//! infinity for `den == 0`, never a panic).

use std::fmt;

/// A rational number `num / den`, e.g. a time base (seconds per tick) or a frame rate
/// (frames per second).
///
/// # Examples
/// ```
/// use nvcodec_media::Rational;
/// let ntsc = Rational::new(60_000, 2002).expect("den > 0");
/// assert_eq!((ntsc.num, ntsc.den), (30_000, 1001));
/// assert_eq!(ntsc.to_string(), "30000/1001");
/// assert!(Rational::new(1, 0).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rational {
    /// Numerator.
    pub num: u64,
    /// Denominator.
    pub den: u64,
}

impl Rational {
    /// `num / den` reduced to lowest terms; `None` if `den` is 0.
    pub fn new(num: u64, den: u64) -> Option<Self> {
        if den == 0 {
            return None;
        }
        let g = gcd(num, den).max(1);
        Some(Self {
            num: num / g,
            den: den / g,
        })
    }

    /// The value as a float.
    pub fn as_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// Both parts as `u32`, as driver structures take them; `None` when either does not fit.
    pub fn to_u32_pair(self) -> Option<(u32, u32)> {
        Some((u32::try_from(self.num).ok()?, u32::try_from(self.den).ok()?))
    }
}

impl fmt::Display for Rational {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rationals_reduce_and_refuse_zero_denominators() {
        assert_eq!(
            Rational::new(12800, 512),
            Some(Rational { num: 25, den: 1 })
        );
        assert_eq!(Rational::new(0, 7), Some(Rational { num: 0, den: 1 }));
        assert_eq!(Rational::new(1, 0), None);
        assert_eq!(Rational { num: 1, den: 1000 }.to_string(), "1/1000");
    }

    #[test]
    fn new_reduces_and_refuses_zero_denominators() {
        assert_eq!(Rational::new(0, 5), Some(Rational { num: 0, den: 1 }));
        assert_eq!(
            Rational::new(u64::MAX, u64::MAX),
            Some(Rational { num: 1, den: 1 })
        );
        assert_eq!(Rational::new(7, 0), None);
        assert_eq!(Rational { num: 1, den: 0 }.as_f64(), f64::INFINITY);
        assert_eq!(
            Rational {
                num: 1 << 40,
                den: 1
            }
            .to_u32_pair(),
            None
        );
        assert_eq!(Rational { num: 30, den: 1 }.to_u32_pair(), Some((30, 1)));
    }
}
