// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Assembler and disassembler of the TPC vector cores' instruction set.
//!
//! The instruction set is [`gaudi_hw::tpc`]: its table [`INSNS`] (mnemonic, opcode, operand
//! [`Form`]) drives both directions, and [`Insn::validate`] decides what is a valid
//! instruction, so this module holds no opcode of its own.
//!
//! # Syntax
//!
//! One instruction per line. `#` or `;` starts a comment that runs to the end of the line.
//! A line may start with labels (`loop:`, `.done:`; letters, digits, `_` and `.`, not starting
//! with a digit). Mnemonics and register names are case-insensitive; labels are not.
//!
//! Operands, by form (`s0`..`s31` are the scalar registers, `v0`..`v15` the vector
//! registers):
//!
//! | Form | Example |
//! |------|---------|
//! | no operand | `halt` |
//! | jump | `j loop` |
//! | compare and branch | `blt s1, s2, loop` |
//! | `sd, imm` | `li s1, -5`, `lui s1, 0x10`, `arg s2, 0`, `gid s3, 1` |
//! | `sd, sa, sb` | `add s1, s2, s3` |
//! | `sd, sa, imm` | `addi s1, s1, 1`, `shli s4, s2, 2` |
//! | scalar load | `ld s1, [s2 + 8]`, `ldw s1, [s2]`, `ld s1, [s2 - 8]` |
//! | scalar store | `st s3, [s2 + 16]` (stores `s3`) |
//! | `sd, sa` | `setvl s5, s4` |
//! | vector load, store | `vld v0, [s3 + 64]`, `vst v0, [s3]` |
//! | strided load | `vlds v0, [s3], s4` |
//! | `vd, sa` | `vbcast v1, s2`, `vitof v1, s2` |
//! | `vd, fp32` | `vbcasti v2, 1.5`, `vbcasti v2, -inf`, `vbcasti v2, 0x7fc00001` |
//! | `vd, va, vb` | `vadd v1, v2, v3`, `vfma v0, v1, v2` |
//! | `vd, va` | `vexp v1, v2`, `vrsum v3, v1` |
//! | `vd` | `viota v0` |
//! | `sd, va, lane` | `vmovs s1, v2, 0` |
//!
//! Integer immediates are decimal, `0x` hexadecimal or `0b` binary, with an optional sign,
//! from -2^31 to 2^32 - 1 (stored as their 32-bit pattern). The immediate of `vbcasti` is an
//! fp32 number (`1`, `-2.5`, `1e-3`, `inf`, `nan`); written in hexadecimal it is the raw bit
//! pattern. A branch target is a label or a number of instructions relative to the branch
//! itself: `j 0` is an endless loop, `j 1` goes to the next instruction.
//!
//! `.word VALUE` emits a raw 64-bit word, valid or not (the disassembler writes invalid words
//! so, which keeps every word round-trippable).
//!
//! ```
//! let code = gaudi::tpc::assemble("
//!     arg   s1, 0          # x
//!     gid   s2, 0
//!     shli  s2, s2, 6      ; 16 lanes of 4 bytes per grid point
//!     add   s1, s1, s2
//!     vld   v0, [s1]
//!     vadd  v0, v0, v0
//!     vst   v0, [s1]
//!     halt
//! ")?;
//! assert_eq!(code.len(), 8);
//! let text = gaudi::tpc::disassemble(&code);
//! assert_eq!(gaudi::tpc::assemble(&text)?, code);
//! # Ok::<(), gaudi::tpc::AsmError>(())
//! ```

use std::{collections::HashMap, fmt, fmt::Write};

pub use gaudi_hw::tpc::{Form, Insn, INSNS, NUM_SREGS, NUM_VREGS, VLEN};

/// An assembly error and the line (from 1) where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsmError {
    /// Line number, from 1.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for AsmError {}

/// Result of a parse step; the caller adds the line.
type Parse<T> = Result<T, String>;

/// The operand form and opcode of `mnemonic` (lowercase).
fn lookup(mnemonic: &str) -> Option<(u8, Form)> {
    INSNS
        .iter()
        .find(|&&(name, _, _)| name == mnemonic)
        .map(|&(_, op, form)| (op, form))
}

/// The mnemonic of `op`.
fn mnemonic(op: u8) -> Option<&'static str> {
    INSNS
        .iter()
        .find(|&&(_, o, _)| o == op)
        .map(|&(name, _, _)| name)
}

/// Register `text` of bank `prefix` (`s` or `v`) with `count` registers.
fn register(text: &str, prefix: char, count: u8) -> Parse<u8> {
    let t = text.trim().to_ascii_lowercase();
    let n = t
        .strip_prefix(prefix)
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<u8>().ok());
    match n {
        Some(n) if n < count => Ok(n),
        _ => Err(format!(
            "`{}` is not a register {prefix}0..{prefix}{}",
            text.trim(),
            count - 1
        )),
    }
}

fn sreg(t: &str) -> Parse<u8> {
    register(t, 's', NUM_SREGS)
}

fn vreg(t: &str) -> Parse<u8> {
    register(t, 'v', NUM_VREGS)
}

/// An integer with optional sign, in decimal, `0x` hex or `0b` binary.
fn integer(text: &str) -> Parse<i64> {
    let t = text.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d.trim_start()),
        None => (false, t.strip_prefix('+').unwrap_or(t).trim_start()),
    };
    let lower = digits.to_ascii_lowercase();
    let parsed = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16)
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2)
    } else if !lower.is_empty() && lower.bytes().all(|b| b.is_ascii_digit()) {
        lower.parse()
    } else {
        return Err(format!("`{t}` is not an integer"));
    };
    let v = parsed.map_err(|_| format!("`{t}` is out of range"))?;
    Ok(if neg { -v } else { v })
}

/// A 32-bit immediate: -2^31..=2^32-1, as its bit pattern.
fn imm32(text: &str) -> Parse<i32> {
    let v = integer(text)?;
    if !(i64::from(i32::MIN)..=i64::from(u32::MAX)).contains(&v) {
        return Err(format!(
            "immediate `{}` does not fit in 32 bits",
            text.trim()
        ));
    }
    Ok(v as u32 as i32)
}

/// An fp32 immediate: a number, or its bit pattern in hex.
fn float_imm(text: &str) -> Parse<i32> {
    let t = text.trim();
    let unsigned = t.trim_start_matches(['-', '+']).to_ascii_lowercase();
    if unsigned.starts_with("0x") {
        return imm32(t);
    }
    t.parse::<f32>()
        .map(|f| f.to_bits() as i32)
        .map_err(|_| format!("`{t}` is not an fp32 number"))
}

/// `[sa]`, `[sa + imm]` or `[sa - imm]`: the register and the offset.
fn memory(text: &str) -> Parse<(u8, i32)> {
    let t = text.trim();
    let inner = t
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| format!("`{t}` is not a memory operand [sN + offset]"))?;
    let split = inner.find(['+', '-']).unwrap_or(inner.len());
    let reg = sreg(&inner[..split])?;
    let rest = inner[split..].trim();
    let off = match rest.strip_prefix('+') {
        _ if rest.is_empty() => 0,
        Some(r) => imm32(r)?,
        None => imm32(rest)?,
    };
    Ok((reg, off))
}

fn is_label(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '.')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// One statement of the source.
struct Statement<'a> {
    line: usize,
    mnemonic: String,
    operands: Vec<&'a str>,
}

/// Branch offset of the instruction at `index` to `target`: a label or a number.
fn target(text: &str, index: usize, labels: &HashMap<&str, usize>) -> Parse<i32> {
    let t = text.trim();
    if let Some(&at) = labels.get(t) {
        let off = at as i64 - index as i64;
        return i32::try_from(off).map_err(|_| format!("branch to `{t}` is too far"));
    }
    if is_label(t) {
        return Err(format!("undefined label `{t}`"));
    }
    imm32(t)
}

/// Instruction `op` with every operand field zero.
fn blank(op: u8) -> Insn {
    Insn {
        op,
        rd: 0,
        ra: 0,
        rb: 0,
        imm: 0,
    }
}

/// Encodes one statement at instruction `index`.
fn encode(s: &Statement<'_>, index: usize, labels: &HashMap<&str, usize>) -> Parse<u64> {
    if s.mnemonic == ".word" {
        let [v] = s.operands[..] else {
            return Err(".word takes one value".into());
        };
        let v = integer(v).or_else(|_| {
            let t = v.trim().to_ascii_lowercase();
            t.strip_prefix("0x")
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .map(|u| u as i64)
                .ok_or_else(|| format!("`{}` is not a 64-bit value", v.trim()))
        })?;
        return Ok(v as u64);
    }
    let (op, form) =
        lookup(&s.mnemonic).ok_or_else(|| format!("unknown instruction `{}`", s.mnemonic))?;
    let want = match form {
        Form::None => 0,
        Form::Jump | Form::Vd => 1,
        Form::SdImm
        | Form::SdMem
        | Form::SbMem
        | Form::SdSa
        | Form::VdMem
        | Form::VsMem
        | Form::VdSa
        | Form::VdImm
        | Form::VdVa => 2,
        Form::Branch
        | Form::SdSaSb
        | Form::SdSaImm
        | Form::VdMemStride
        | Form::VdVaVb
        | Form::SdVaImm => 3,
    };
    if s.operands.len() != want {
        return Err(format!(
            "`{}` takes {want} operand{}, not {}",
            s.mnemonic,
            if want == 1 { "" } else { "s" },
            s.operands.len()
        ));
    }
    let o = &s.operands;
    let mut i = blank(op);
    match form {
        Form::None => {}
        Form::Jump => i.imm = target(o[0], index, labels)?,
        Form::Branch => {
            i.ra = sreg(o[0])?;
            i.rb = sreg(o[1])?;
            i.imm = target(o[2], index, labels)?;
        }
        Form::SdImm => (i.rd, i.imm) = (sreg(o[0])?, imm32(o[1])?),
        Form::SdSaSb => (i.rd, i.ra, i.rb) = (sreg(o[0])?, sreg(o[1])?, sreg(o[2])?),
        Form::SdSaImm => (i.rd, i.ra, i.imm) = (sreg(o[0])?, sreg(o[1])?, imm32(o[2])?),
        Form::SdMem => {
            i.rd = sreg(o[0])?;
            (i.ra, i.imm) = memory(o[1])?;
        }
        Form::SbMem => {
            i.rb = sreg(o[0])?;
            (i.ra, i.imm) = memory(o[1])?;
        }
        Form::SdSa => (i.rd, i.ra) = (sreg(o[0])?, sreg(o[1])?),
        Form::VdMem | Form::VsMem => {
            i.rd = vreg(o[0])?;
            (i.ra, i.imm) = memory(o[1])?;
        }
        Form::VdMemStride => {
            i.rd = vreg(o[0])?;
            let (ra, off) = memory(o[1])?;
            if off != 0 {
                return Err("a strided load takes no offset: [sN], stride".into());
            }
            i.ra = ra;
            i.rb = sreg(o[2])?;
        }
        Form::VdSa => (i.rd, i.ra) = (vreg(o[0])?, sreg(o[1])?),
        Form::VdImm => (i.rd, i.imm) = (vreg(o[0])?, float_imm(o[1])?),
        Form::VdVaVb => (i.rd, i.ra, i.rb) = (vreg(o[0])?, vreg(o[1])?, vreg(o[2])?),
        Form::VdVa => (i.rd, i.ra) = (vreg(o[0])?, vreg(o[1])?),
        Form::Vd => i.rd = vreg(o[0])?,
        Form::SdVaImm => (i.rd, i.ra, i.imm) = (sreg(o[0])?, vreg(o[1])?, imm32(o[2])?),
    }
    if i.validate().is_none() {
        return Err(match form {
            Form::SdVaImm => format!("lane {} is not in 0..{VLEN}", i.imm),
            _ => format!("immediate {} is out of range for `{}`", i.imm, s.mnemonic),
        });
    }
    Ok(i.encode())
}

/// Assembles `source` into instruction words.
pub fn assemble(source: &str) -> Result<Vec<u64>, AsmError> {
    let mut statements = Vec::new();
    let mut labels: HashMap<&str, usize> = HashMap::new();
    for (n, raw) in source.lines().enumerate() {
        let line = n + 1;
        let err = |message: String| AsmError { line, message };
        let mut text = raw.find(['#', ';']).map_or(raw, |c| &raw[..c]).trim();
        while let Some(colon) = text.find(':') {
            let name = text[..colon].trim();
            if !is_label(name) {
                return Err(err(format!("`{name}` is not a label")));
            }
            if labels.insert(name, statements.len()).is_some() {
                return Err(err(format!("label `{name}` defined twice")));
            }
            text = text[colon + 1..].trim();
        }
        if text.is_empty() {
            continue;
        }
        let (mn, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let operands: Vec<&str> = if rest.trim().is_empty() {
            Vec::new()
        } else {
            rest.split(',').map(str::trim).collect()
        };
        if operands.iter().any(|o| o.is_empty()) {
            return Err(err("empty operand".into()));
        }
        statements.push(Statement {
            line,
            mnemonic: mn.to_ascii_lowercase(),
            operands,
        });
    }
    statements
        .iter()
        .enumerate()
        .map(|(index, s)| {
            encode(s, index, &labels).map_err(|message| AsmError {
                line: s.line,
                message,
            })
        })
        .collect()
}

/// Formats an fp32 immediate so that [`assemble`] reads back the same bits.
fn float_text(bits: i32) -> String {
    let f = f32::from_bits(bits as u32);
    if f.is_nan() {
        format!("{:#010x}", bits as u32)
    } else {
        format!("{f:?}")
    }
}

fn mem_text(ra: u8, imm: i32) -> String {
    match imm {
        0 => format!("[s{ra}]"),
        i if i < 0 => format!("[s{ra} - {}]", -i64::from(i)),
        i => format!("[s{ra} + {i}]"),
    }
}

/// One instruction as text; branch targets as relative numbers, or through `label` when it
/// names them. `None` for an invalid word.
fn insn_text(word: u64, label: &dyn Fn(i32) -> Option<String>) -> Option<String> {
    let i = Insn::decode(word);
    let form = i.validate()?;
    let m = mnemonic(i.op)?;
    let (d, a, b, imm) = (i.rd, i.ra, i.rb, i.imm);
    let t = |off: i32| label(off).unwrap_or_else(|| off.to_string());
    Some(match form {
        Form::None => m.to_string(),
        Form::Jump => format!("{m} {}", t(imm)),
        Form::Branch => format!("{m} s{a}, s{b}, {}", t(imm)),
        Form::SdImm => format!("{m} s{d}, {imm}"),
        Form::SdSaSb => format!("{m} s{d}, s{a}, s{b}"),
        Form::SdSaImm => format!("{m} s{d}, s{a}, {imm}"),
        Form::SdMem => format!("{m} s{d}, {}", mem_text(a, imm)),
        Form::SbMem => format!("{m} s{b}, {}", mem_text(a, imm)),
        Form::SdSa => format!("{m} s{d}, s{a}"),
        Form::VdMem | Form::VsMem => format!("{m} v{d}, {}", mem_text(a, imm)),
        Form::VdMemStride => format!("{m} v{d}, [s{a}], s{b}"),
        Form::VdSa => format!("{m} v{d}, s{a}"),
        Form::VdImm => format!("{m} v{d}, {}", float_text(imm)),
        Form::VdVaVb => format!("{m} v{d}, v{a}, v{b}"),
        Form::VdVa => format!("{m} v{d}, v{a}"),
        Form::Vd => format!("{m} v{d}"),
        Form::SdVaImm => format!("{m} s{d}, v{a}, {imm}"),
    })
}

/// One instruction word as text (branch targets relative); `.word 0x...` if it is invalid.
pub fn disassemble_insn(word: u64) -> String {
    insn_text(word, &|_| None).unwrap_or_else(|| format!(".word {word:#018x}"))
}

/// A whole kernel as text that [`assemble`] turns back into the same words: one instruction
/// per line, indented, with a label `L<index>:` before every branch target inside the kernel.
pub fn disassemble(code: &[u64]) -> String {
    let mut targets = vec![false; code.len()];
    let target_of = |index: usize, word: u64| -> Option<usize> {
        let i = Insn::decode(word);
        match i.validate()? {
            Form::Jump | Form::Branch => {
                let t = index as i64 + i64::from(i.imm);
                (0..code.len() as i64).contains(&t).then_some(t as usize)
            }
            _ => None,
        }
    };
    for (index, &w) in code.iter().enumerate() {
        if let Some(t) = target_of(index, w) {
            targets[t] = true;
        }
    }
    let mut out = String::new();
    for (index, &w) in code.iter().enumerate() {
        if targets[index] {
            let _ = writeln!(out, "L{index}:");
        }
        let label = |off: i32| {
            let t = index as i64 + i64::from(off);
            (0..code.len() as i64).contains(&t).then(|| format!("L{t}"))
        };
        let text = insn_text(w, &label).unwrap_or_else(|| format!(".word {w:#018x}"));
        let _ = writeln!(out, "    {text}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gaudi_hw::tpc::op;

    /// xorshift64*.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u8 {
            (self.next() % n) as u8
        }
    }

    /// A random valid instruction of `form` with opcode `op`.
    fn random_insn(r: &mut Rng, op: u8, form: Form) -> Insn {
        let s = |r: &mut Rng| r.below(u64::from(NUM_SREGS));
        let v = |r: &mut Rng| r.below(u64::from(NUM_VREGS));
        let imm = match r.below(4) {
            0 => 0,
            1 => i32::MIN,
            2 => -1,
            _ => r.next() as i32,
        };
        let mut i = blank(op);
        match form {
            Form::None => {}
            Form::Jump => i.imm = imm,
            Form::Branch => (i.ra, i.rb, i.imm) = (s(r), s(r), imm),
            Form::SdImm => {
                // Argument and dimension numbers are small.
                let imm = match op {
                    op::ARG => i32::from(r.below(8)),
                    op::GID | op::GSIZE => i32::from(r.below(3)),
                    _ => imm,
                };
                (i.rd, i.imm) = (s(r), imm);
            }
            Form::SdSaSb => (i.rd, i.ra, i.rb) = (s(r), s(r), s(r)),
            Form::SdSaImm | Form::SdMem => (i.rd, i.ra, i.imm) = (s(r), s(r), imm),
            Form::SbMem => (i.ra, i.rb, i.imm) = (s(r), s(r), imm),
            Form::SdSa => (i.rd, i.ra) = (s(r), s(r)),
            Form::VdMem | Form::VsMem => (i.rd, i.ra, i.imm) = (v(r), s(r), imm),
            Form::VdMemStride => (i.rd, i.ra, i.rb) = (v(r), s(r), s(r)),
            Form::VdSa => (i.rd, i.ra) = (v(r), s(r)),
            Form::VdImm => (i.rd, i.imm) = (v(r), imm),
            Form::VdVaVb => (i.rd, i.ra, i.rb) = (v(r), v(r), v(r)),
            Form::VdVa => (i.rd, i.ra) = (v(r), v(r)),
            Form::Vd => i.rd = v(r),
            Form::SdVaImm => (i.rd, i.ra, i.imm) = (s(r), v(r), i32::from(r.below(16))),
        }
        assert_eq!(i.validate(), Some(form), "{i:?}");
        i
    }

    #[test]
    fn every_instruction_round_trips() {
        let mut r = Rng(0x1234_5678_9abc_def1);
        for &(name, op, form) in INSNS {
            for _ in 0..200 {
                let w = random_insn(&mut r, op, form).encode();
                let text = disassemble_insn(w);
                assert!(text.starts_with(name), "{text}");
                let back = assemble(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
                assert_eq!(back, [w], "{text}");
            }
        }
    }

    #[test]
    fn random_words_round_trip() {
        let mut r = Rng(42);
        let mut valid = 0;
        for _ in 0..20_000 {
            let mut w = r.next();
            if r.below(2) == 0 {
                // A known opcode and small register fields, so that more words are valid.
                let (_, op, _) = INSNS[r.below(INSNS.len() as u64) as usize];
                w = (w & 0xffff_ffff_0f0f_0f00) | u64::from(op);
            }
            valid += usize::from(Insn::decode(w).validate().is_some());
            let text = disassemble_insn(w);
            assert_eq!(assemble(&text).unwrap(), [w], "{text}");
        }
        assert!(valid > 100, "only {valid} valid words");
    }

    #[test]
    fn programs_round_trip_with_labels() {
        let mut r = Rng(7);
        for _ in 0..50 {
            let n = 1 + r.below(40) as usize;
            let code: Vec<u64> = (0..n)
                .map(|i| {
                    let (_, op, form) = INSNS[r.below(INSNS.len() as u64) as usize];
                    let mut insn = random_insn(&mut r, op, form);
                    if matches!(form, Form::Jump | Form::Branch) && r.below(2) == 0 {
                        insn.imm = i32::from(r.below(n as u64)) - i as i32;
                    }
                    insn.encode()
                })
                .collect();
            let text = disassemble(&code);
            assert_eq!(assemble(&text).unwrap(), code, "{text}");
        }
    }

    #[test]
    fn syntax() {
        let src = "
            # vector add
            start:  arg s1, 0
                    ARG S2, 1       ; case does not matter
            .l_2:   li  s3, -5
                    lui s4, 0xffffffff
                    addi s5, s5, 0b101
                    ld  s6, [s2 + 8]
                    ld  s6, [s2-8]
                    st  s7, [s2]
                    vlds v0, [s3], s4
                    vbcasti v2, 1.5
                    vbcasti v2, 0x7fc00001
                    vbcasti v2, -inf
                    vmovs s1, v15, 15
                    blt s3, s4, .l_2
                    j start
            a: b:   halt
                    j b
                    .word 0x1234
        ";
        let w = assemble(src).unwrap();
        let i = |k: usize| Insn::decode(w[k]);
        assert_eq!(w.len(), 18);
        assert_eq!((i(0).op, i(0).rd, i(0).imm), (op::ARG, 1, 0));
        assert_eq!((i(1).rd, i(1).imm), (2, 1));
        assert_eq!(i(2).imm, -5);
        assert_eq!(i(3).imm, -1);
        assert_eq!(i(4).imm, 5);
        assert_eq!((i(5).rd, i(5).ra, i(5).imm), (6, 2, 8));
        assert_eq!(i(6).imm, -8);
        assert_eq!((i(7).op, i(7).rd, i(7).ra, i(7).rb), (op::ST, 0, 2, 7));
        assert_eq!((i(8).rd, i(8).ra, i(8).rb), (0, 3, 4));
        assert_eq!(i(9).imm as u32, 1.5f32.to_bits());
        assert_eq!(i(10).imm as u32, 0x7fc0_0001);
        assert_eq!(i(11).imm as u32, f32::NEG_INFINITY.to_bits());
        assert_eq!((i(12).rd, i(12).ra, i(12).imm), (1, 15, 15));
        assert_eq!(
            (i(13).op, i(13).ra, i(13).rb, i(13).imm),
            (op::BLT, 3, 4, -11)
        );
        assert_eq!(i(14).imm, -14);
        assert_eq!(i(15).op, op::HALT);
        assert_eq!(i(16).imm, -1);
        assert_eq!(w[17], 0x1234);
        assert_eq!(disassemble_insn(w[17]), ".word 0x0000000000001234");
        assert_eq!(disassemble_insn(w[9]), "vbcasti v2, 1.5");
        assert_eq!(disassemble_insn(w[6]), "ld s6, [s2 - 8]");
        assert_eq!(disassemble_insn(w[7]), "st s7, [s2]");
        let text = disassemble(&w);
        assert!(text.contains("L2:\n    li s3, -5\n"), "{text}");
        assert!(text.contains("    blt s3, s4, L2\n"), "{text}");
        assert!(assemble("").unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_line() {
        for (src, line, what) in [
            ("halt\nfoo s1", 2, "unknown instruction"),
            ("li s32, 1", 1, "not a register"),
            ("vadd v1, v2, s3", 1, "not a register"),
            ("li s1", 1, "takes 2 operands"),
            ("halt s1", 1, "takes 0 operands"),
            ("\n\nli s1, 0x100000000", 3, "32 bits"),
            ("li s1, -2147483649", 1, "32 bits"),
            ("li s1, twelve", 1, "not an integer"),
            ("j nowhere", 1, "undefined label"),
            ("x:\nx: halt", 2, "twice"),
            ("1x: halt", 1, "not a label"),
            ("ld s1, s2", 1, "memory operand"),
            ("ld s1, [s2 * 2]", 1, "not a register"),
            ("ld s1, [s2 + x]", 1, "not an integer"),
            ("vlds v1, [s2 + 4], s3", 1, "no offset"),
            ("vmovs s1, v2, 16", 1, "lane 16"),
            ("vbcasti v1, one", 1, "fp32"),
            ("add s1, , s2", 1, "empty operand"),
            (".word", 1, "one value"),
        ] {
            let e = assemble(src).unwrap_err();
            assert_eq!(e.line, line, "{src}: {e}");
            assert!(e.message.contains(what), "{src}: {e}");
            assert!(e.to_string().starts_with(&format!("line {line}: ")));
        }
    }
}
