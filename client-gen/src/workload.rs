//! What the load generator asks the replicated key-value store to do: which keys, which
//! operations, which values, and (open loop) when.
//!
//! Everything here is deterministic given a seed, so a run's operation stream can be
//! reproduced exactly: each client's [`OpGenerator`] and the [`ArrivalClock`] draw from
//! their own PCG stream (`rand_pcg::Pcg64Mcg`, 128-bit state, fast, and with a documented,
//! fixed output sequence, unlike `rand::rngs::StdRng`, whose algorithm may change between
//! `rand` releases). Streams are derived from `(seed, client id, purpose)` by hashing, so
//! clients and the arrival process are independent of each other.
//!
//! Operations are encoded with the store's own [`KvOp::encode`], so the bytes are exactly
//! what the replicas decode. Against the null app (`--app null`) every operation is empty:
//! the replicas execute nothing, so only the protocol's cost is measured.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use protocols::MAX_DATAGRAM;
use protocols::app::AppKind;
use protocols::app::kv::KvOp;
use rand::{Rng, RngExt};
use rand_pcg::Pcg64Mcg;

/// The exponent `zipfian` without a number means: YCSB's default, a common reference point.
pub const DEFAULT_ZIPF_EXPONENT: f64 = 0.99;

/// Values must hold the writer's client id and write counter, which keep every written value
/// unique so that a history checker can tell writes apart.
pub const MIN_VALUE_SIZE: usize = 16;

/// A compare-and-swap carries two values; both, the key and the message headers must fit one
/// datagram of [`MAX_DATAGRAM`] bytes.
pub const MAX_VALUE_SIZE: usize = (MAX_DATAGRAM - 192) / 2;

/// Most keys a workload may have: key ranks are computed in `f64`, exact up to 2^53.
pub const MAX_KEYS: u64 = 1 << 53;

/// Keys are `key-` and a zero-padded decimal index at least this wide (`key-000042`), so
/// every key of a run has the same length.
const MIN_KEY_DIGITS: usize = 6;
const KEY_PREFIX: &[u8] = b"key-";
const MAX_KEY_LEN: usize = KEY_PREFIX.len() + 20;

/// Purposes mixed into stream derivation, so no two generators share a stream.
const STREAM_OPS: u64 = 0x6f70_7300;
const STREAM_ARRIVALS: u64 = 0x6172_7276;

/// Which keys requests touch.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyDistribution {
    /// Every key equally likely.
    Uniform,
    /// Key of popularity rank `k` (1 = hottest) has probability proportional to
    /// `1 / k^exponent`. Rank `k` is the key with index `k - 1` (`key-000000` is hottest);
    /// ranks are not scrambled, since the store does not care where hot keys sit.
    Zipfian { exponent: f64 },
}

impl KeyDistribution {
    /// Why this distribution cannot be sampled, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        match *self {
            KeyDistribution::Uniform => Ok(()),
            KeyDistribution::Zipfian { exponent } => check_exponent(exponent),
        }
    }
}

fn check_exponent(exponent: f64) -> Result<(), String> {
    if exponent.is_finite() && exponent > 0.0 && exponent <= 100.0 {
        Ok(())
    } else {
        Err(format!(
            "zipfian exponent {exponent}: must be above 0 and at most 100, for example \
             zipfian:0.99 (for no skew, use uniform)"
        ))
    }
}

impl FromStr for KeyDistribution {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (name, arg) = match text.split_once(':') {
            Some((name, arg)) => (name.trim(), Some(arg.trim())),
            None => (text, None),
        };
        match (name.to_ascii_lowercase().as_str(), arg) {
            ("uniform", None) => Ok(KeyDistribution::Uniform),
            ("uniform", Some(_)) => Err(format!(
                "key distribution {text:?}: uniform takes no parameter; write `uniform`, or \
                 `zipfian:<exponent>` for skew"
            )),
            ("zipfian" | "zipf", None) => Ok(KeyDistribution::Zipfian {
                exponent: DEFAULT_ZIPF_EXPONENT,
            }),
            ("zipfian" | "zipf", Some(arg)) => {
                let exponent: f64 = arg.parse().map_err(|_| {
                    format!(
                        "key distribution {text:?}: {arg:?} is not a number; write the \
                         exponent as in zipfian:0.99"
                    )
                })?;
                check_exponent(exponent)?;
                Ok(KeyDistribution::Zipfian { exponent })
            }
            _ => Err(format!(
                "unknown key distribution {text:?}: use `uniform`, `zipfian` (exponent \
                 {DEFAULT_ZIPF_EXPONENT}) or `zipfian:<exponent>` such as zipfian:1.2"
            )),
        }
    }
}

impl fmt::Display for KeyDistribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyDistribution::Uniform => f.write_str("uniform"),
            KeyDistribution::Zipfian { exponent } => write!(f, "zipfian:{exponent}"),
        }
    }
}

/// How writes split between put, append and compare-and-swap. The weights are fractions of
/// the writes and add up to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteMix {
    pub put: f64,
    pub append: f64,
    pub cas: f64,
}

impl Default for WriteMix {
    /// Puts only: the cheapest write, the one most comparisons use.
    fn default() -> Self {
        WriteMix {
            put: 1.0,
            append: 0.0,
            cas: 0.0,
        }
    }
}

const WRITE_KINDS: [&str; 3] = ["put", "append", "cas"];

impl WriteMix {
    fn weights(&self) -> [f64; 3] {
        [self.put, self.append, self.cas]
    }

    /// Why these weights are not a mix, if they are not.
    pub fn check(&self) -> Result<(), String> {
        for (name, w) in WRITE_KINDS.iter().zip(self.weights()) {
            if !w.is_finite() || w < 0.0 {
                return Err(format!(
                    "write mix: {name} weight {w} must be a fraction from 0 to 1, \
                     for example put:0.5,append:0.3,cas:0.2"
                ));
            }
        }
        let sum: f64 = self.weights().iter().sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(format!(
                "write mix {self}: the weights add up to {sum}, not 1; for example \
                 put:0.5,append:0.3,cas:0.2"
            ));
        }
        Ok(())
    }
}

impl FromStr for WriteMix {
    type Err = String;

    /// `put`, `append`, `cas` (all writes of that kind) or weighted parts such as
    /// `put:0.5,append:0.3,cas:0.2`; kinds left out get weight 0.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut weights: [Option<f64>; 3] = [None; 3];
        let example = "for example put, or put:0.5,append:0.3,cas:0.2";
        if text.trim().is_empty() {
            return Err(format!(
                "write mix is empty: name the kinds of write, {example}"
            ));
        }
        for part in text.split(',') {
            let part = part.trim();
            let (name, weight) = match part.split_once(':') {
                Some((name, w)) => {
                    let w = w.trim();
                    let weight: f64 = w.parse().map_err(|_| {
                        format!("write mix {text:?}: {w:?} is not a number ({example})")
                    })?;
                    (name.trim(), weight)
                }
                None => (part, 1.0),
            };
            let Some(i) = WRITE_KINDS
                .iter()
                .position(|k| k.eq_ignore_ascii_case(name))
            else {
                return Err(format!(
                    "write mix {text:?}: unknown kind of write {name:?}; the kinds are put, \
                     append and cas ({example})"
                ));
            };
            if weights[i].replace(weight).is_some() {
                return Err(format!(
                    "write mix {text:?}: {name} is named twice; name each kind once ({example})"
                ));
            }
        }
        let [put, append, cas] = weights.map(|w| w.unwrap_or(0.0));
        let mix = WriteMix { put, append, cas };
        mix.check()?;
        Ok(mix)
    }
}

impl fmt::Display for WriteMix {
    /// Parses back to the same mix; a single kind is written as its bare name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<(&str, f64)> = WRITE_KINDS
            .iter()
            .copied()
            .zip(self.weights())
            .filter(|&(_, w)| w != 0.0)
            .collect();
        match parts.as_slice() {
            [] => f.write_str("none"),
            [(name, w)] if *w == 1.0 => f.write_str(name),
            _ => {
                for (i, (name, w)) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{name}:{w}")?;
                }
                Ok(())
            }
        }
    }
}

/// The operation mix a run issues. Shared by all clients; each client draws its own
/// operations from it (see [`OpGenerator`]).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadSpec {
    /// Distinct keys, `key-000000` up to `keys - 1`.
    pub keys: u64,
    pub distribution: KeyDistribution,
    /// Fraction of operations that are gets; the rest are writes.
    pub read_fraction: f64,
    pub write_mix: WriteMix,
    /// Bytes of every written value (`MIN_VALUE_SIZE..=MAX_VALUE_SIZE`).
    pub value_size: usize,
    pub seed: u64,
    /// What the replicas run: with [`AppKind::Null`] every operation is empty and the
    /// key and value fields above are unused.
    pub app: AppKind,
}

impl Default for WorkloadSpec {
    /// 1000 keys, uniform, half reads, puts of 32 bytes, seed 1.
    fn default() -> Self {
        WorkloadSpec {
            keys: 1000,
            distribution: KeyDistribution::Uniform,
            read_fraction: 0.5,
            write_mix: WriteMix::default(),
            value_size: 32,
            seed: 1,
            app: AppKind::Kv,
        }
    }
}

impl WorkloadSpec {
    /// Checks every field, so a bad flag is reported before any load is sent.
    pub fn validate(&self) -> Result<(), String> {
        if self.keys == 0 || self.keys > MAX_KEYS {
            return Err(format!(
                "keys {}: a workload needs from 1 to {MAX_KEYS} keys, for example --keys 1000",
                self.keys
            ));
        }
        self.distribution
            .check()
            .map_err(|e| format!("distribution: {e}"))?;
        if !(0.0..=1.0).contains(&self.read_fraction) {
            return Err(format!(
                "read_fraction {}: must be a fraction from 0 to 1, for example --reads 0.5",
                self.read_fraction
            ));
        }
        self.write_mix
            .check()
            .map_err(|e| format!("write_mix: {e}"))?;
        if self.value_size < MIN_VALUE_SIZE {
            return Err(format!(
                "value_size {}: values need at least {MIN_VALUE_SIZE} bytes to carry the \
                 writer's client id and counter, which keep written values unique for history \
                 checks; for example --value-size 32",
                self.value_size
            ));
        }
        if self.value_size > MAX_VALUE_SIZE {
            return Err(format!(
                "value_size {}: at most {MAX_VALUE_SIZE} bytes, so a compare-and-swap (two \
                 values) fits one {MAX_DATAGRAM}-byte datagram; for example --value-size 1024",
                self.value_size
            ));
        }
        Ok(())
    }
}

impl fmt::Display for WorkloadSpec {
    /// The command-line flags that reproduce this workload.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--keys {} --distribution {} --reads {} --writes {} --value-size {} --seed {}",
            self.keys,
            self.distribution,
            self.read_fraction,
            self.write_mix,
            self.value_size,
            self.seed
        )?;
        match self.app {
            AppKind::Kv => Ok(()),
            AppKind::Null => f.write_str(" --app null"),
        }
    }
}

/// SplitMix64's finaliser: a bijective 64-bit mix, so distinct inputs give distinct outputs.
fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The random stream for one `(seed, stream, purpose)`.
fn stream_rng(seed: u64, stream: u64, purpose: u64) -> Pcg64Mcg {
    let hi = mix64(seed ^ mix64(purpose));
    let lo = mix64(hi ^ mix64(stream.wrapping_add(purpose)));
    Pcg64Mcg::new((u128::from(hi) << 64) | u128::from(lo))
}

/// A Zipf distribution over ranks `1..=n`: `P(k) = k^-s / H(n, s)`.
///
/// Sampled by rejection-inversion (W. Hörmann and G. Derflinger, "Rejection-inversion to
/// generate variates from monotone discrete distributions", ACM TOMACS 6(3), 1996), the
/// method of Apache Commons' `RejectionInversionZipfSampler`: constant memory and expected
/// constant time for any `n`, with no table of `n` entries and no precomputed harmonic sum
/// (which YCSB's classic generator needs, and which is slow and inexact for large `n`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Zipf {
    n: u64,
    exponent: f64,
    /// `H(1.5) - h(1)`: the left end of the area sampled (rank 1 gets its exact mass).
    h_integral_x1: f64,
    /// `H(n + 0.5)`: the right end.
    h_integral_n: f64,
    /// Below this distance from the rounded rank, a sample is accepted without evaluating
    /// the exact test (a squeeze that saves the `exp`/`log` calls most of the time).
    squeeze: f64,
}

impl Zipf {
    /// `n` ranks (1 to 2^53) with exponent `s` (above 0, at most 100; 1 is allowed).
    pub fn new(n: u64, exponent: f64) -> Result<Zipf, String> {
        if n == 0 || n > MAX_KEYS {
            return Err(format!(
                "zipf over {n} ranks: needs from 1 to {MAX_KEYS} ranks"
            ));
        }
        check_exponent(exponent)?;
        let mut z = Zipf {
            n,
            exponent,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            squeeze: 0.0,
        };
        z.h_integral_x1 = z.h_integral(1.5) - 1.0;
        z.h_integral_n = z.h_integral(n as f64 + 0.5);
        z.squeeze = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        Ok(z)
    }

    pub fn n(&self) -> u64 {
        self.n
    }

    pub fn exponent(&self) -> f64 {
        self.exponent
    }

    /// A rank in `1..=n`.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        // The acceptance probability is above 0.9 for every n and s, so 64 rejections in a
        // row do not happen; the bound only keeps a numerical accident from looping forever.
        let mut k = 1;
        for _ in 0..64 {
            // u is uniform on (h_integral_x1, h_integral_n]; both ends may be negative.
            let u =
                self.h_integral_n + rng.random::<f64>() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            // Float-to-int casts saturate (and NaN gives 0), then the clamp keeps k in range.
            k = ((x + 0.5) as u64).clamp(1, self.n);
            let kf = k as f64;
            if kf - x <= self.squeeze || u >= self.h_integral(kf + 0.5) - self.h(kf) {
                return k;
            }
        }
        k
    }

    /// The unnormalised mass function, `x^-s`.
    fn h(&self, x: f64) -> f64 {
        (-self.exponent * x.ln()).exp()
    }

    /// An antiderivative of `h`: `(x^(1-s) - 1) / (1-s)`, which is `ln x` at `s = 1`;
    /// written so that it is accurate near `s = 1` too.
    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        expm1_over_x((1.0 - self.exponent) * log_x) * log_x
    }

    /// The inverse of [`Self::h_integral`].
    fn h_integral_inverse(&self, x: f64) -> f64 {
        // Rounding can push t slightly below -1, where log1p is undefined.
        let t = (x * (1.0 - self.exponent)).max(-1.0);
        (log1p_over_x(t) * x).exp()
    }
}

/// `(e^x - 1) / x`, continuous at 0.
fn expm1_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + x * 0.25))
    }
}

/// `ln(1 + x) / x`, continuous at 0.
fn log1p_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - x * 0.25))
    }
}

/// Whether an operation reads or writes, for callers that account them separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Read,
    Write,
    /// An empty operation for the null app.
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteKind {
    Put,
    Append,
    Cas,
}

#[derive(Debug, Clone)]
enum KeySampler {
    /// Indexes `0..n`, `n >= 1`.
    Uniform {
        n: u64,
    },
    Zipf(Zipf),
}

/// One client's operation stream. The same spec and client id give the same operations.
///
/// Keys are `key-` and a zero-padded index (`key-000042`, wider when there are more than a
/// million keys). Every written value is `value_size` bytes and unique: `.` padding then
/// `<client>:<counter>;` in decimal (the counter counts this generator's writes from 1), or,
/// where that text does not fit, the two numbers as 8-byte big-endian integers. A
/// compare-and-swap expects the value this generator wrote last (to any key; absent before
/// its first write), so it succeeds only when that key still holds it: with many keys most
/// compare-and-swaps fail, and both outcomes exercise the store.
#[derive(Debug, Clone)]
pub struct OpGenerator {
    rng: Pcg64Mcg,
    keys: KeySampler,
    read_fraction: f64,
    /// Cumulative write weights: put below `[0]`, append below `[1]`, else the fallback.
    write_cdf: [f64; 2],
    /// The last kind with a positive weight, for draws that rounding leaves above the CDF.
    write_fallback: WriteKind,
    value_size: usize,
    client: u64,
    writes: u64,
    key_digits: usize,
    key: [u8; MAX_KEY_LEN],
    key_len: usize,
    value: Vec<u8>,
    previous: Vec<u8>,
    has_previous: bool,
    null: bool,
}

impl OpGenerator {
    /// The generator of client `client`. Call [`WorkloadSpec::validate`] first: out-of-range
    /// fields are clamped here (never a panic), which would not be the workload asked for.
    pub fn new(spec: &WorkloadSpec, client: u64) -> OpGenerator {
        let n = spec.keys.clamp(1, MAX_KEYS);
        let keys = match spec.distribution {
            KeyDistribution::Zipfian { exponent } => match Zipf::new(n, exponent) {
                Ok(z) => KeySampler::Zipf(z),
                Err(_) => KeySampler::Uniform { n },
            },
            KeyDistribution::Uniform => KeySampler::Uniform { n },
        };
        let mix = if spec.write_mix.check().is_ok() {
            spec.write_mix.clone()
        } else {
            WriteMix::default()
        };
        let write_fallback = if mix.cas > 0.0 {
            WriteKind::Cas
        } else if mix.append > 0.0 {
            WriteKind::Append
        } else {
            WriteKind::Put
        };
        let value_size = spec.value_size.clamp(MIN_VALUE_SIZE, MAX_VALUE_SIZE);
        let read_fraction = if spec.read_fraction.is_nan() {
            0.0
        } else {
            spec.read_fraction.clamp(0.0, 1.0)
        };
        OpGenerator {
            rng: stream_rng(spec.seed, client, STREAM_OPS),
            keys,
            read_fraction,
            write_cdf: [mix.put, mix.put + mix.append],
            write_fallback,
            value_size,
            client,
            writes: 0,
            key_digits: decimal_digits(n - 1).max(MIN_KEY_DIGITS),
            key: [0; MAX_KEY_LEN],
            key_len: 0,
            value: Vec::with_capacity(value_size),
            previous: Vec::with_capacity(value_size),
            has_previous: false,
            null: spec.app == AppKind::Null,
        }
    }

    /// Appends the next operation, encoded as [`KvOp::encode`] does, to `out`. Allocates
    /// nothing once `out` has room for an operation.
    pub fn next_op(&mut self, out: &mut Vec<u8>) -> OpKind {
        if self.null {
            return OpKind::Null;
        }
        let read = self.rng.random::<f64>() < self.read_fraction;
        let write = if read {
            None
        } else {
            let w = self.rng.random::<f64>();
            Some(if w < self.write_cdf[0] {
                WriteKind::Put
            } else if w < self.write_cdf[1] {
                WriteKind::Append
            } else {
                self.write_fallback
            })
        };
        let index = match &self.keys {
            KeySampler::Uniform { n } => self.rng.random_range(0..*n),
            KeySampler::Zipf(z) => z.sample(&mut self.rng) - 1,
        };
        self.format_key(index);
        let key = &self.key[..self.key_len];
        let Some(write) = write else {
            KvOp::Get { key }.encode(out);
            return OpKind::Read;
        };
        self.writes += 1;
        fill_value(&mut self.value, self.value_size, self.client, self.writes);
        let value = self.value.as_slice();
        match write {
            WriteKind::Put => KvOp::Put { key, value }.encode(out),
            WriteKind::Append => KvOp::Append { key, value }.encode(out),
            WriteKind::Cas => KvOp::Cas {
                key,
                expected: self.has_previous.then_some(self.previous.as_slice()),
                new: value,
            }
            .encode(out),
        }
        std::mem::swap(&mut self.value, &mut self.previous);
        self.has_previous = true;
        OpKind::Write
    }

    /// Writes issued so far (the counter in the last written value).
    pub fn writes(&self) -> u64 {
        self.writes
    }

    fn format_key(&mut self, index: u64) {
        let digits = self.key_digits;
        let prefix = KEY_PREFIX.len();
        self.key[..prefix].copy_from_slice(KEY_PREFIX);
        let mut v = index;
        for slot in self.key[prefix..prefix + digits].iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
        self.key_len = prefix + digits;
    }
}

fn decimal_digits(mut v: u64) -> usize {
    let mut d = 1;
    while v >= 10 {
        v /= 10;
        d += 1;
    }
    d
}

/// Writes `v` in decimal into the end of `buf`, returning where the digits start.
fn write_decimal_back(buf: &mut [u8], end: usize, mut v: u64) -> usize {
    let mut i = end;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return i;
        }
    }
}

/// A `size`-byte value unique to (`client`, `counter`); see [`OpGenerator`].
fn fill_value(value: &mut Vec<u8>, size: usize, client: u64, counter: u64) {
    // "<client>:<counter>;": at most 20 + 1 + 20 + 1 bytes.
    let mut tag = [0u8; 42];
    let end = tag.len();
    tag[end - 1] = b';';
    let start = write_decimal_back(&mut tag, end - 1, counter);
    tag[start - 1] = b':';
    let start = write_decimal_back(&mut tag, start - 1, client);
    let text = &tag[start..];
    value.clear();
    if text.len() <= size {
        value.resize(size - text.len(), b'.');
        value.extend_from_slice(text);
    } else {
        value.resize(size - 16, 0);
        value.extend_from_slice(&client.to_be_bytes());
        value.extend_from_slice(&counter.to_be_bytes());
    }
}

/// When open-loop requests are sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Arrivals {
    /// Evenly spaced, `rate` per second.
    Fixed { rate: f64 },
    /// A Poisson process of `rate` per second (exponential gaps), the usual model of many
    /// independent users; its bursts show queueing that a fixed rate hides.
    Poisson { rate: f64 },
}

impl Arrivals {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        match *self {
            Arrivals::Fixed { rate } | Arrivals::Poisson { rate } => rate,
        }
    }

    /// Why this process cannot run, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        let rate = self.rate();
        if rate.is_finite() && rate > 0.0 && rate <= 1e9 {
            Ok(())
        } else {
            Err(format!(
                "arrival rate {rate}: must be above 0 and at most 1e9 requests per second, \
                 for example poisson:10000"
            ))
        }
    }
}

impl FromStr for Arrivals {
    type Err = String;

    /// `fixed:<rate>` or `poisson:<rate>`, in requests per second.
    fn from_str(text: &str) -> Result<Self, String> {
        let example = "for example fixed:10000 or poisson:10000 (requests per second)";
        let Some((name, rate)) = text.trim().split_once(':') else {
            return Err(format!(
                "arrivals {text:?}: write the process and the rate, {example}"
            ));
        };
        let rate_text = rate.trim();
        let rate: f64 = rate_text
            .parse()
            .map_err(|_| format!("arrivals {text:?}: {rate_text:?} is not a rate; {example}"))?;
        let arrivals = match name.trim().to_ascii_lowercase().as_str() {
            "fixed" => Arrivals::Fixed { rate },
            "poisson" => Arrivals::Poisson { rate },
            other => {
                return Err(format!(
                    "arrivals {text:?}: unknown process {other:?}; use fixed or poisson, {example}"
                ));
            }
        };
        arrivals.check()?;
        Ok(arrivals)
    }
}

impl fmt::Display for Arrivals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arrivals::Fixed { rate } => write!(f, "fixed:{rate}"),
            Arrivals::Poisson { rate } => write!(f, "poisson:{rate}"),
        }
    }
}

/// Successive intended send times of an open-loop run, as offsets from its start.
///
/// Latency is measured from these times, not from when a request actually left, so a
/// stalled sender cannot hide queueing (no coordinated omission). Times are computed from
/// the start, not by adding gaps to the previous send, so they do not drift.
#[derive(Debug, Clone)]
pub struct ArrivalClock {
    arrivals: Arrivals,
    rng: Pcg64Mcg,
    /// Arrivals handed out so far.
    count: u64,
    /// Poisson: the last arrival, in seconds.
    t: f64,
}

impl ArrivalClock {
    /// The arrivals of `arrivals`, seeded (for Poisson) from `seed` on a stream of its own.
    /// Call [`Arrivals::check`] first: an invalid rate yields no arrivals (every time is
    /// `Duration::MAX`).
    pub fn new(arrivals: Arrivals, seed: u64) -> ArrivalClock {
        ArrivalClock {
            arrivals,
            rng: stream_rng(seed, u64::MAX, STREAM_ARRIVALS),
            count: 0,
            t: 0.0,
        }
    }

    /// The next intended send time. Fixed: `0, 1/rate, 2/rate, ...`. Poisson: the first
    /// arrival is one exponential gap after the start.
    // Not `Iterator::next`: the sequence never ends, so an `Option` would only be noise.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Duration {
        let rate = self.arrivals.rate();
        if self.arrivals.check().is_err() {
            return Duration::MAX;
        }
        let secs = match self.arrivals {
            Arrivals::Fixed { .. } => self.count as f64 / rate,
            Arrivals::Poisson { .. } => {
                // 1 - u is in (0, 1], so the logarithm is finite.
                let u: f64 = self.rng.random();
                self.t += -(1.0 - u).ln() / rate;
                self.t
            }
        };
        self.count += 1;
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    }

    /// Arrivals handed out so far.
    pub fn count(&self) -> u64 {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocols::app::kv::KvOp;

    fn rng(seed: u64) -> Pcg64Mcg {
        stream_rng(seed, 0, 1)
    }

    /// `P(k)` for `k` in `1..=n`, by direct summation.
    fn zipf_pmf(n: u64, s: f64) -> Vec<f64> {
        let weights: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
        let total: f64 = weights.iter().sum();
        weights.iter().map(|w| w / total).collect()
    }

    /// Asserts the empirical frequency of rank `k` is within 5 standard errors of `p`.
    fn assert_frequency(k: u64, count: u64, samples: u64, p: f64) {
        let observed = count as f64 / samples as f64;
        let se = (p * (1.0 - p) / samples as f64).sqrt();
        assert!(
            (observed - p).abs() <= 5.0 * se + 1e-9,
            "rank {k}: observed {observed:.5}, expected {p:.5} (se {se:.5})"
        );
    }

    fn check_zipf(n: u64, s: f64, samples: u64, seed: u64) {
        let z = Zipf::new(n, s).unwrap();
        let mut r = rng(seed);
        let top = 20.min(n) as usize;
        let mut counts = vec![0u64; top];
        let mut tail = 0u64;
        for _ in 0..samples {
            let k = z.sample(&mut r);
            assert!((1..=n).contains(&k), "rank {k} outside 1..={n}");
            match counts.get_mut(k as usize - 1) {
                Some(c) => *c += 1,
                None => tail += 1,
            }
        }
        let pmf = zipf_pmf(n, s);
        for k in 0..top {
            assert_frequency(k as u64 + 1, counts[k], samples, pmf[k]);
        }
        let tail_p: f64 = pmf[top..].iter().sum();
        assert_frequency(top as u64 + 1, tail, samples, tail_p);
    }

    #[test]
    fn zipf_top_ranks_match_theory() {
        check_zipf(1000, 0.99, 300_000, 1);
        check_zipf(1000, 1.0, 300_000, 2);
        check_zipf(10_000, 0.5, 300_000, 3);
        check_zipf(100, 2.0, 200_000, 4);
        check_zipf(1_000_000, 1.2, 300_000, 5);
        check_zipf(5, 0.99, 100_000, 6);
    }

    #[test]
    fn zipf_chi_square_over_log_bins() {
        // The whole distribution, not only the head: bins [2^i, 2^(i+1)).
        let (n, s, samples) = (4096u64, 0.99, 200_000u64);
        let z = Zipf::new(n, s).unwrap();
        let mut r = rng(7);
        let mut observed = [0f64; 13];
        for _ in 0..samples {
            observed[z.sample(&mut r).ilog2() as usize] += 1.0;
        }
        let pmf = zipf_pmf(n, s);
        let mut chi2 = 0.0;
        for (bin, &o) in observed.iter().enumerate() {
            let lo = 1usize << bin;
            let hi = (lo << 1).min(n as usize + 1);
            let e: f64 = pmf[lo - 1..hi - 1].iter().sum::<f64>() * samples as f64;
            chi2 += (o - e) * (o - e) / e;
        }
        // 12 degrees of freedom: mean 12, the 99.9th percentile is 32.9.
        assert!(chi2 < 33.0, "chi-square {chi2} over 13 bins");
    }

    #[test]
    fn zipf_handles_huge_n_and_edges() {
        // For s = 2 the normaliser is pi^2/6 - O(1/n): P(1) = 6/pi^2 for n = 2^53.
        let z = Zipf::new(MAX_KEYS, 2.0).unwrap();
        let mut r = rng(8);
        let samples = 200_000;
        let mut ones = 0;
        for _ in 0..samples {
            let k = z.sample(&mut r);
            assert!((1..=MAX_KEYS).contains(&k));
            ones += u64::from(k == 1);
        }
        let p1 = 6.0 / (std::f64::consts::PI * std::f64::consts::PI);
        assert_frequency(1, ones, samples, p1);

        let one = Zipf::new(1, 0.99).unwrap();
        assert!((0..1000).all(|_| one.sample(&mut r) == 1));
        let steep = Zipf::new(1000, 100.0).unwrap();
        assert!((0..1000).all(|_| steep.sample(&mut r) == 1));
        let big = Zipf::new(u64::MAX >> 11, 0.99).unwrap();
        assert!((0..1000).all(|_| (1..=big.n()).contains(&big.sample(&mut r))));

        assert!(Zipf::new(0, 1.0).is_err());
        assert!(Zipf::new(MAX_KEYS + 1, 1.0).is_err());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 101.0] {
            let e = Zipf::new(10, bad).unwrap_err();
            assert!(e.contains("zipfian:0.99"), "{e}");
        }
    }

    /// The key index of an encoded operation.
    fn key_index(op: &[u8]) -> u64 {
        let op = KvOp::decode(op).unwrap();
        let key = std::str::from_utf8(op.key()).unwrap();
        key.strip_prefix("key-").unwrap().parse().unwrap()
    }

    #[test]
    fn the_null_app_gets_empty_operations() {
        let spec = WorkloadSpec {
            app: AppKind::Null,
            ..WorkloadSpec::default()
        };
        let mut g = OpGenerator::new(&spec, 0);
        let mut out = Vec::new();
        for _ in 0..10 {
            assert_eq!(g.next_op(&mut out), OpKind::Null);
        }
        assert!(out.is_empty());
        assert_eq!(g.writes(), 0);
        assert!(spec.to_string().ends_with(" --app null"), "{spec}");
        assert!(!WorkloadSpec::default().to_string().contains("--app"));
    }

    #[test]
    fn uniform_keys_are_uniform() {
        let spec = WorkloadSpec {
            keys: 100,
            read_fraction: 1.0,
            ..WorkloadSpec::default()
        };
        let mut g = OpGenerator::new(&spec, 0);
        let samples = 100_000u64;
        let mut counts = [0f64; 100];
        let mut out = Vec::new();
        for _ in 0..samples {
            out.clear();
            assert_eq!(g.next_op(&mut out), OpKind::Read);
            counts[key_index(&out) as usize] += 1.0;
        }
        let e = samples as f64 / 100.0;
        let chi2: f64 = counts.iter().map(|&o| (o - e) * (o - e) / e).sum();
        // 99 degrees of freedom: mean 99, the 99.9th percentile is about 149.
        assert!(chi2 < 150.0, "chi-square {chi2}");
        assert!(counts.iter().all(|&c| c > 0.0));
    }

    #[test]
    fn zipfian_workload_hits_the_hot_key() {
        let spec = WorkloadSpec {
            keys: 1000,
            distribution: KeyDistribution::Zipfian { exponent: 0.99 },
            read_fraction: 1.0,
            ..WorkloadSpec::default()
        };
        let mut g = OpGenerator::new(&spec, 3);
        let samples = 100_000;
        let mut hot = 0;
        let mut out = Vec::new();
        for _ in 0..samples {
            out.clear();
            g.next_op(&mut out);
            hot += u64::from(key_index(&out) == 0);
        }
        assert_frequency(1, hot, samples, zipf_pmf(1000, 0.99)[0]);
    }

    fn ops(spec: &WorkloadSpec, client: u64, n: usize) -> Vec<Vec<u8>> {
        let mut g = OpGenerator::new(spec, client);
        (0..n)
            .map(|_| {
                let mut out = Vec::new();
                g.next_op(&mut out);
                out
            })
            .collect()
    }

    #[test]
    fn generators_are_deterministic_per_seed_and_client() {
        let spec = WorkloadSpec {
            distribution: KeyDistribution::Zipfian { exponent: 0.99 },
            write_mix: "put:0.5,append:0.3,cas:0.2".parse().unwrap(),
            ..WorkloadSpec::default()
        };
        let a = ops(&spec, 0, 500);
        assert_eq!(a, ops(&spec, 0, 500));
        assert_ne!(a, ops(&spec, 1, 500));
        let other_seed = WorkloadSpec { seed: 2, ..spec };
        assert_ne!(a, ops(&other_seed, 0, 500));
    }

    #[test]
    fn operations_decode_and_follow_the_mix() {
        let spec = WorkloadSpec {
            keys: 50,
            read_fraction: 0.3,
            write_mix: "put:0.5,append:0.3,cas:0.2".parse().unwrap(),
            value_size: 40,
            ..WorkloadSpec::default()
        };
        let mut g = OpGenerator::new(&spec, 7);
        let n = 50_000u64;
        let (mut gets, mut puts, mut appends, mut cases) = (0u64, 0u64, 0u64, 0u64);
        let mut values = std::collections::HashSet::new();
        let mut previous: Option<Vec<u8>> = None;
        let mut out = Vec::new();
        for _ in 0..n {
            out.clear();
            let kind = g.next_op(&mut out);
            let op = KvOp::decode(&out).expect("the store decodes every generated operation");
            assert_eq!(op.key().len(), 10, "keys are key-NNNNNN");
            assert_eq!(kind == OpKind::Read, op.is_read_only());
            let written = match op {
                KvOp::Get { .. } => {
                    gets += 1;
                    continue;
                }
                KvOp::Put { value, .. } => {
                    puts += 1;
                    value
                }
                KvOp::Append { value, .. } => {
                    appends += 1;
                    value
                }
                KvOp::Cas { expected, new, .. } => {
                    cases += 1;
                    assert_eq!(expected, previous.as_deref(), "cas expects the last write");
                    new
                }
            };
            assert_eq!(written.len(), 40);
            assert!(values.insert(written.to_vec()), "written values are unique");
            previous = Some(written.to_vec());
        }
        let writes = (n - gets) as f64;
        assert_eq!(g.writes(), n - gets);
        let close = |x: u64, total: f64, p: f64| {
            let se = (p * (1.0 - p) / total).sqrt();
            (x as f64 / total - p).abs() < 5.0 * se
        };
        assert!(close(gets, n as f64, 0.3), "gets {gets}");
        assert!(close(puts, writes, 0.5), "puts {puts}");
        assert!(close(appends, writes, 0.3), "appends {appends}");
        assert!(close(cases, writes, 0.2), "cas {cases}");
    }

    #[test]
    fn values_carry_client_and_counter() {
        let spec = WorkloadSpec {
            read_fraction: 0.0,
            value_size: 16,
            ..WorkloadSpec::default()
        };
        let all = ops(&spec, 12, 3);
        let value = |op: &[u8]| match KvOp::decode(op).unwrap() {
            KvOp::Put { value, .. } => value.to_vec(),
            other => panic!("expected a put, got {other:?}"),
        };
        assert_eq!(value(&all[0]), b"...........12:1;");
        assert_eq!(value(&all[2]), b"...........12:3;");
        // A tag that does not fit falls back to binary, still unique and full size.
        let all = ops(&spec, u64::MAX, 2);
        let mut expected = u64::MAX.to_be_bytes().to_vec();
        expected.extend_from_slice(&2u64.to_be_bytes());
        assert_eq!(value(&all[1]), expected);
        // Keys widen past a million.
        let wide = WorkloadSpec {
            keys: 10_000_000,
            ..spec
        };
        let op = &ops(&wide, 0, 1)[0];
        assert_eq!(KvOp::decode(op).unwrap().key().len(), 4 + 7);
    }

    #[test]
    fn next_op_appends_without_reallocating() {
        let spec = WorkloadSpec {
            write_mix: "cas".parse().unwrap(),
            read_fraction: 0.0,
            ..WorkloadSpec::default()
        };
        let mut g = OpGenerator::new(&spec, 0);
        let mut out = Vec::with_capacity(256);
        out.push(0xaa);
        g.next_op(&mut out);
        assert_eq!(out[0], 0xaa, "next_op appends");
        let ptr = out.as_ptr();
        for _ in 0..1000 {
            out.clear();
            g.next_op(&mut out);
        }
        assert_eq!(ptr, out.as_ptr());
    }

    #[test]
    fn distribution_parsing() {
        assert_eq!("uniform".parse(), Ok(KeyDistribution::Uniform));
        assert_eq!(
            "zipfian".parse(),
            Ok(KeyDistribution::Zipfian { exponent: 0.99 })
        );
        assert_eq!(
            " Zipfian:1.0 ".parse(),
            Ok(KeyDistribution::Zipfian { exponent: 1.0 })
        );
        for bad in [
            "zipfian:0",
            "zipfian:-1",
            "zipfian:x",
            "normal",
            "uniform:2",
            "",
        ] {
            let e = bad.parse::<KeyDistribution>().unwrap_err();
            assert!(e.contains("zipfian:"), "{bad}: {e}");
        }
        let z = KeyDistribution::Zipfian { exponent: 1.2 };
        assert_eq!(z.to_string().parse(), Ok(z));
    }

    #[test]
    fn write_mix_parsing() {
        assert_eq!("put".parse(), Ok(WriteMix::default()));
        let mix: WriteMix = "put:0.5, append:0.3 ,cas:0.2".parse().unwrap();
        assert_eq!(
            mix,
            WriteMix {
                put: 0.5,
                append: 0.3,
                cas: 0.2
            }
        );
        assert_eq!(mix.to_string(), "put:0.5,append:0.3,cas:0.2");
        assert_eq!(mix.to_string().parse(), Ok(mix));
        assert_eq!("append".parse::<WriteMix>().unwrap().to_string(), "append");
        let e = "put:0.5,append:0.3".parse::<WriteMix>().unwrap_err();
        assert!(e.contains("add up to 0.8"), "{e}");
        let e = "put,put".parse::<WriteMix>().unwrap_err();
        assert!(e.contains("twice"), "{e}");
        let e = "delete".parse::<WriteMix>().unwrap_err();
        assert!(e.contains("put, append and cas"), "{e}");
        let e = "put:x".parse::<WriteMix>().unwrap_err();
        assert!(e.contains("not a number"), "{e}");
        let e = "put:1.5,cas:-0.5".parse::<WriteMix>().unwrap_err();
        assert!(e.contains("cas weight -0.5"), "{e}");
        assert!("".parse::<WriteMix>().is_err());
    }

    #[test]
    fn validation_names_the_field_and_an_example() {
        assert_eq!(WorkloadSpec::default().validate(), Ok(()));
        let cases: [(WorkloadSpec, &str, &str); 7] = [
            (
                WorkloadSpec {
                    keys: 0,
                    ..Default::default()
                },
                "keys 0",
                "--keys 1000",
            ),
            (
                WorkloadSpec {
                    keys: MAX_KEYS + 1,
                    ..Default::default()
                },
                "keys",
                "--keys 1000",
            ),
            (
                WorkloadSpec {
                    read_fraction: 1.5,
                    ..Default::default()
                },
                "read_fraction 1.5",
                "--reads 0.5",
            ),
            (
                WorkloadSpec {
                    read_fraction: f64::NAN,
                    ..Default::default()
                },
                "read_fraction NaN",
                "--reads 0.5",
            ),
            (
                WorkloadSpec {
                    value_size: 8,
                    ..Default::default()
                },
                "value_size 8",
                "--value-size 32",
            ),
            (
                WorkloadSpec {
                    value_size: 100_000,
                    ..Default::default()
                },
                "value_size 100000",
                "--value-size 1024",
            ),
            (
                WorkloadSpec {
                    write_mix: WriteMix {
                        put: 0.5,
                        append: 0.0,
                        cas: 0.0,
                    },
                    ..Default::default()
                },
                "write_mix",
                "put:0.5,append:0.3,cas:0.2",
            ),
        ];
        for (spec, field, example) in cases {
            let e = spec.validate().unwrap_err();
            assert!(e.contains(field) && e.contains(example), "{e}");
        }
        let bad = WorkloadSpec {
            distribution: KeyDistribution::Zipfian { exponent: -1.0 },
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().starts_with("distribution"));
        // Invalid specs still make a generator that works (clamped), never a panic.
        let mut g = OpGenerator::new(
            &WorkloadSpec {
                keys: 0,
                value_size: 0,
                read_fraction: f64::NAN,
                ..bad
            },
            0,
        );
        let mut out = Vec::new();
        g.next_op(&mut out);
        assert!(KvOp::decode(&out).is_ok());
    }

    #[test]
    fn spec_display_is_the_flags() {
        let spec = WorkloadSpec {
            distribution: KeyDistribution::Zipfian { exponent: 0.99 },
            write_mix: "put:0.8,cas:0.2".parse().unwrap(),
            ..WorkloadSpec::default()
        };
        assert_eq!(
            spec.to_string(),
            "--keys 1000 --distribution zipfian:0.99 --reads 0.5 --writes put:0.8,cas:0.2 \
             --value-size 32 --seed 1"
        );
    }

    #[test]
    fn arrivals_parsing() {
        assert_eq!("fixed:10000".parse(), Ok(Arrivals::Fixed { rate: 10000.0 }));
        assert_eq!(
            "Poisson: 2.5e3".parse(),
            Ok(Arrivals::Poisson { rate: 2500.0 })
        );
        for bad in [
            "10000",
            "poisson:0",
            "fixed:-3",
            "fixed:abc",
            "gamma:10",
            "poisson:inf",
        ] {
            let e = bad.parse::<Arrivals>().unwrap_err();
            assert!(e.contains("poisson:10000"), "{bad}: {e}");
        }
        let a = Arrivals::Poisson { rate: 123.5 };
        assert_eq!(a.to_string().parse(), Ok(a));
    }

    #[test]
    fn fixed_arrivals_are_evenly_spaced() {
        let mut c = ArrivalClock::new(Arrivals::Fixed { rate: 4.0 }, 1);
        let times: Vec<Duration> = (0..5).map(|_| c.next()).collect();
        assert_eq!(
            times,
            [0, 250, 500, 750, 1000].map(Duration::from_millis).to_vec()
        );
        // No drift after many arrivals.
        let mut c = ArrivalClock::new(Arrivals::Fixed { rate: 3.0 }, 1);
        let last = (0..=3_000_000).map(|_| c.next()).last().unwrap();
        assert_eq!(last, Duration::from_secs(1_000_000));
        assert_eq!(c.count(), 3_000_001);
    }

    #[test]
    fn poisson_arrivals_have_exponential_gaps() {
        let rate = 1000.0;
        let mut c = ArrivalClock::new(Arrivals::Poisson { rate }, 9);
        let n = 100_000;
        let mut previous = Duration::ZERO;
        let mut gaps = Vec::with_capacity(n);
        for _ in 0..n {
            let t = c.next();
            assert!(t >= previous);
            gaps.push((t - previous).as_secs_f64());
            previous = t;
        }
        let mean = gaps.iter().sum::<f64>() / n as f64;
        let var = gaps.iter().map(|g| (g - mean) * (g - mean)).sum::<f64>() / n as f64;
        // Mean 1/rate (standard error 1/(rate sqrt n)); coefficient of variation 1.
        assert!((mean * rate - 1.0).abs() < 0.02, "mean gap {mean}");
        assert!(
            (var.sqrt() / mean - 1.0).abs() < 0.03,
            "cv {}",
            var.sqrt() / mean
        );
        // P(gap > 1/rate) = 1/e.
        let long = gaps.iter().filter(|&&g| g > 1.0 / rate).count() as f64 / n as f64;
        assert!((long - (-1f64).exp()).abs() < 0.01, "{long}");

        let a: Vec<Duration> = {
            let mut c = ArrivalClock::new(Arrivals::Poisson { rate }, 9);
            (0..100).map(|_| c.next()).collect()
        };
        let mut again = ArrivalClock::new(Arrivals::Poisson { rate }, 9);
        assert!(
            a.iter().all(|&t| t == again.next()),
            "same seed, same times"
        );
        let mut other = ArrivalClock::new(Arrivals::Poisson { rate }, 10);
        assert_ne!(a[0], other.next());
        // An invalid rate never fires rather than panicking.
        let mut never = ArrivalClock::new(Arrivals::Fixed { rate: 0.0 }, 1);
        assert_eq!(never.next(), Duration::MAX);
    }
}
