//! Member offsets from the kernel's BTF, read straight from its bytes.
//!
//! The owners probe needs a dozen offsets in `struct sock`, `struct net` and `struct
//! task_struct`. A general BTF library builds every type and name of the kernel (about 130,000
//! types: over 30 MiB, most of httptop's peak memory); this keeps the file and one offset per
//! type, about 6 MiB, and only while the layout is read.

use std::borrow::Cow;

/// BTF's magic number, as the kernel writes it (little-endian on every machine httptop runs on;
/// the other byte order is told by the magic read swapped).
const MAGIC: u16 = 0xeb9f;
const HEADER_LEN: usize = 24;
/// A type's common part: name offset, info, size or type.
const TYPE_LEN: usize = 12;
const MEMBER_LEN: usize = 12;

const KIND_INT: u32 = 1;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BtfError {
    #[error("not BTF (bad magic number)")]
    Magic,
    #[error("BTF cut short or its sections out of bounds")]
    Truncated,
    #[error("BTF type {0} has an unknown kind {1}")]
    Kind(usize, u32),
}

/// The kernel's BTF: its bytes and where each type starts (type id `i` at `types[i - 1]`; id
/// 0 is `void`).
pub struct Btf {
    data: Vec<u8>,
    big_endian: bool,
    types: Vec<u32>,
    strings: (usize, usize),
}

/// One type's common part.
#[derive(Clone, Copy)]
struct Type {
    at: usize,
    name_off: u32,
    kind: u32,
    vlen: usize,
    kind_flag: bool,
    /// The size, or for typedefs, qualifiers and pointers the type referred to.
    size_or_type: u32,
}

impl Btf {
    pub fn parse(data: Vec<u8>) -> Result<Btf, BtfError> {
        let magic = data.get(..2).ok_or(BtfError::Truncated)?;
        let big_endian = match u16::from_le_bytes([magic[0], magic[1]]) {
            MAGIC => false,
            m if m.swap_bytes() == MAGIC => true,
            _ => return Err(BtfError::Magic),
        };
        let mut btf = Btf {
            data,
            big_endian,
            types: Vec::new(),
            strings: (0, 0),
        };
        let hdr_len = btf.u32_at(4)? as usize;
        let field = |i: usize| btf.u32_at(8 + 4 * i).map(|v| v as usize);
        let (type_off, type_len, str_off, str_len) = (field(0)?, field(1)?, field(2)?, field(3)?);
        if hdr_len < HEADER_LEN {
            return Err(BtfError::Truncated);
        }
        let section = |off: usize, len: usize| {
            let start = hdr_len.checked_add(off)?;
            let end = start.checked_add(len)?;
            (end <= btf.data.len()).then_some((start, end))
        };
        let (types_start, types_end) = section(type_off, type_len).ok_or(BtfError::Truncated)?;
        btf.strings = section(str_off, str_len).ok_or(BtfError::Truncated)?;
        let mut at = types_start;
        let mut types = Vec::new();
        while at < types_end {
            let t = btf.type_at(at)?;
            let extra = match t.kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION => MEMBER_LEN * t.vlen,
                KIND_DATASEC | KIND_ENUM64 => 12 * t.vlen,
                KIND_ENUM | KIND_FUNC_PROTO => 8 * t.vlen,
                0..=KIND_ENUM64 => 0,
                kind => return Err(BtfError::Kind(types.len() + 1, kind)),
            };
            types.push(at as u32);
            at += TYPE_LEN + extra;
        }
        if at != types_end {
            return Err(BtfError::Truncated);
        }
        btf.types = types;
        Ok(btf)
    }

    fn u32_at(&self, at: usize) -> Result<u32, BtfError> {
        let b: [u8; 4] = self
            .data
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or(BtfError::Truncated)?;
        Ok(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn type_at(&self, at: usize) -> Result<Type, BtfError> {
        let info = self.u32_at(at + 4)?;
        Ok(Type {
            at,
            name_off: self.u32_at(at)?,
            kind: (info >> 24) & 0x1f,
            vlen: (info & 0xffff) as usize,
            kind_flag: info >> 31 != 0,
            size_or_type: self.u32_at(at + 8)?,
        })
    }

    fn type_by_id(&self, id: u32) -> Option<Type> {
        let at = *self.types.get((id as usize).checked_sub(1)?)?;
        self.type_at(at as usize).ok()
    }

    fn name(&self, name_off: u32) -> Cow<'_, str> {
        let (start, end) = self.strings;
        let bytes = &self.data[start..end];
        let from = (name_off as usize).min(bytes.len());
        let rest = &bytes[from..];
        let len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        String::from_utf8_lossy(&rest[..len])
    }

    /// The struct named `name` (not a forward declaration of it).
    fn struct_named(&self, name: &str) -> Option<Type> {
        self.types.iter().find_map(|&at| {
            let t = self.type_at(at as usize).ok()?;
            (t.kind == KIND_STRUCT && self.name(t.name_off) == name).then_some(t)
        })
    }

    /// The struct or union that type `id` is, through typedefs and qualifiers.
    fn struct_of(&self, mut id: u32) -> Option<Type> {
        for _ in 0..16 {
            let t = self.type_by_id(id)?;
            match t.kind {
                KIND_STRUCT | KIND_UNION => return Some(t),
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = t.size_or_type;
                }
                _ => return None,
            }
        }
        None
    }

    /// `field` in the struct or union `s`, or in an anonymous member of it: its bit offset and
    /// its type id.
    fn member(&self, s: Type, field: &str) -> Option<(u32, u32)> {
        for i in 0..s.vlen {
            let at = s.at + TYPE_LEN + i * MEMBER_LEN;
            let (name_off, type_id, offset) = (
                self.u32_at(at).ok()?,
                self.u32_at(at + 4).ok()?,
                self.u32_at(at + 8).ok()?,
            );
            // With the kind flag, the top byte holds a bitfield's size.
            let bits = if s.kind_flag {
                offset & 0xff_ffff
            } else {
                offset
            };
            let name = self.name(name_off);
            if name == field {
                return Some((bits, type_id));
            }
            if name.is_empty()
                && let Some(inner) = self.struct_of(type_id)
                && let Some((inner_bits, found)) = self.member(inner, field)
            {
                return Some((bits + inner_bits, found));
            }
        }
        None
    }

    /// Byte offset of the member at `path` in struct `name` (anonymous structs and unions on
    /// the way are looked through, typedefs followed); `None` when a step is missing or the
    /// member is a bitfield not on a byte.
    pub fn offset_of(&self, name: &str, path: &[&str]) -> Option<u32> {
        let mut current = self.struct_named(name)?;
        let mut bits = 0u32;
        for (i, field) in path.iter().enumerate() {
            let (offset, type_id) = self.member(current, field)?;
            bits += offset;
            if i + 1 < path.len() {
                current = self.struct_of(type_id)?;
            }
        }
        bits.is_multiple_of(8).then_some(bits / 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a BTF blob: `types` as (name, info, size_or_type, extra words).
    fn blob(strings: &[&str], types: &[(u32, u32, u32, Vec<u32>)]) -> Vec<u8> {
        let mut type_bytes = Vec::new();
        for (name, info, size, extra) in types {
            for w in [*name, *info, *size].iter().chain(extra) {
                type_bytes.extend_from_slice(&w.to_le_bytes());
            }
        }
        let mut str_bytes = vec![0u8];
        for s in strings {
            str_bytes.extend_from_slice(s.as_bytes());
            str_bytes.push(0);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        for w in [
            HEADER_LEN as u32,
            0,
            type_bytes.len() as u32,
            type_bytes.len() as u32,
            str_bytes.len() as u32,
        ] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&type_bytes);
        out.extend_from_slice(&str_bytes);
        out
    }

    fn info(kind: u32, vlen: u32, kind_flag: bool) -> u32 {
        (u32::from(kind_flag) << 31) | (kind << 24) | vlen
    }

    /// `struct outer { int a; union { int pad; struct inner in; }; }` with `inner` behind a
    /// typedef and a const, and a bitfield-flagged struct.
    #[test]
    fn offsets_are_found_through_anonymous_members_typedefs_and_qualifiers() {
        // Names: 1 "int", 5 "outer", 11 "a", 13 "pad", 17 "inner", 23 "in", 26 "x",
        // 28 "inner_t", 36 "flagged", 44 "y".
        let strings = [
            "int", "outer", "a", "pad", "inner", "in", "x", "inner_t", "flagged", "y",
        ];
        let types = vec![
            // 1: int
            (1, info(KIND_INT, 0, false), 4, vec![32]),
            // 2: struct inner { int x @ 32 bits }
            (17, info(KIND_STRUCT, 1, false), 8, vec![26, 1, 32]),
            // 3: typedef inner_t = inner; 4: const inner_t
            (28, info(KIND_TYPEDEF, 0, false), 2, vec![]),
            (0, info(KIND_CONST, 0, false), 3, vec![]),
            // 5: anonymous union { int pad @ 0; const inner_t in @ 0 }
            (0, info(KIND_UNION, 2, false), 8, vec![13, 1, 0, 23, 4, 0]),
            // 6: struct outer { int a @ 0; anon @ 64 }
            (5, info(KIND_STRUCT, 2, false), 16, vec![11, 1, 0, 0, 5, 64]),
            // 7: struct flagged { int y : 3 @ 40 bits } (size in the top byte)
            (
                36,
                info(KIND_STRUCT, 1, true),
                8,
                vec![44, 1, (3 << 24) | 40],
            ),
        ];
        let btf = Btf::parse(blob(&strings, &types)).unwrap();
        assert_eq!(btf.offset_of("outer", &["a"]), Some(0));
        assert_eq!(btf.offset_of("outer", &["pad"]), Some(8));
        assert_eq!(btf.offset_of("outer", &["in", "x"]), Some(12));
        assert_eq!(btf.offset_of("flagged", &["y"]), Some(5));
        assert_eq!(btf.offset_of("outer", &["b"]), None);
        assert_eq!(
            btf.offset_of("inner_t", &["x"]),
            None,
            "a typedef is no struct"
        );
        assert_eq!(btf.offset_of("nothing", &["x"]), None);
    }

    #[test]
    fn bad_blobs_are_errors_not_panics() {
        let good = blob(&["int"], &[(1, info(KIND_INT, 0, false), 4, vec![32])]);
        assert!(Btf::parse(good.clone()).is_ok());
        assert_eq!(Btf::parse(vec![0; 3]).err(), Some(BtfError::Magic));
        assert_eq!(Btf::parse(vec![0x9f]).err(), Some(BtfError::Truncated));
        for cut in 0..good.len() {
            assert!(Btf::parse(good[..cut].to_vec()).is_err(), "cut at {cut}");
        }
        let mut unknown = good.clone();
        // The int's info word: kind 31.
        unknown[HEADER_LEN + 7] = 31;
        assert_eq!(Btf::parse(unknown).err(), Some(BtfError::Kind(1, 31)));
        // A struct claiming more members than the section holds.
        let long = blob(
            &["s"],
            &[(1, info(KIND_STRUCT, 3, false), 4, vec![0, 0, 0])],
        );
        assert_eq!(Btf::parse(long).err(), Some(BtfError::Truncated));
    }
}
