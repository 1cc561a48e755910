//! Capture files, pcap (every magic: µs, ns, modified, either byte order) and pcapng, read
//! with pcap-parser. It takes records as the file holds them: an original length beyond the
//! file's snap length (every `tcpdump -s N` capture), a sub-second field of a second or more.

use std::{fs::File, path::Path};

use anyhow::{Context as _, anyhow, bail};
use pcap_parser::{
    Block, Linktype, PcapBlockOwned, PcapError, create_reader,
    traits::{PcapNGPacketBlock as _, PcapReaderIterator},
};

/// Bytes buffered: records up to this long are read (a 256 KiB snap length is tcpdump's
/// default, and TSO/GRO frames reach 64 KiB).
const BUFFER: usize = 1 << 20;

pub struct Frame<'a> {
    pub link: Linktype,
    pub ts_ns: u64,
    pub data: &'a [u8],
}

/// A legacy pcap file's link type and whether its sub-second field counts nanoseconds.
#[derive(Clone, Copy)]
struct LegacyFormat {
    link: Linktype,
    nanoseconds: bool,
}

/// A pcapng interface: link type, timestamp unit and the offset its timestamps are from.
#[derive(Clone, Copy)]
struct Interface {
    link: Linktype,
    resolution: TsResolution,
    offset_s: i64,
}

pub struct CaptureReader {
    reader: Box<dyn PcapReaderIterator + Send>,
    legacy: Option<LegacyFormat>,
    /// The current section's interfaces (pcapng): ids are per section.
    interfaces: Vec<Interface>,
    /// The last packet's bytes, copied out of the reader's buffer (which the next read
    /// refills) into one allocation kept for the whole file.
    data: Vec<u8>,
}

impl CaptureReader {
    pub fn open(path: &Path) -> anyhow::Result<CaptureReader> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let reader = create_reader(BUFFER, file).map_err(|e| match e {
            PcapError::Eof | PcapError::UnexpectedEof | PcapError::Incomplete(_) => {
                anyhow!("{}: too short for a capture", path.display())
            }
            _ => anyhow!("{}: neither pcap nor pcapng ({e})", path.display()),
        })?;
        Ok(CaptureReader {
            reader,
            legacy: None,
            interfaces: Vec::new(),
            data: Vec::new(),
        })
    }

    /// The next packet, `None` at the end of the file; an error for a file that ends inside
    /// a record or holds one that cannot be parsed (what came before it stands).
    pub fn next_frame(&mut self) -> anyhow::Result<Option<Frame<'_>>> {
        loop {
            let (consumed, packet) = match self.reader.next() {
                Ok((consumed, block)) => {
                    let packet = packet_of(&mut self.legacy, &mut self.interfaces, &block)?;
                    let packet = packet.map(|(link, ts_ns, data)| {
                        self.data.clear();
                        self.data.extend_from_slice(data);
                        (link, ts_ns)
                    });
                    (consumed, packet)
                }
                Err(PcapError::Eof) => return Ok(None),
                Err(PcapError::Incomplete(_)) => {
                    self.reader
                        .refill()
                        .map_err(|e| anyhow!("reading the capture: {e}"))?;
                    continue;
                }
                Err(PcapError::UnexpectedEof) => bail!("the file ends inside a record"),
                Err(PcapError::BufferTooSmall) => {
                    bail!("a record longer than {BUFFER} bytes")
                }
                Err(e) => bail!("a record that cannot be read: {e}"),
            };
            self.reader.consume(consumed);
            if let Some((link, ts_ns)) = packet {
                return Ok(Some(Frame {
                    link,
                    ts_ns,
                    data: &self.data,
                }));
            }
        }
    }
}

/// The packet a block holds (link type, timestamp, bytes), if it holds one; headers and
/// interface blocks update the reader's state.
fn packet_of<'b>(
    legacy: &mut Option<LegacyFormat>,
    interfaces: &mut Vec<Interface>,
    block: &'b PcapBlockOwned<'_>,
) -> anyhow::Result<Option<(Linktype, u64, &'b [u8])>> {
    const NS_PER_S: u64 = 1_000_000_000;
    Ok(match block {
        PcapBlockOwned::LegacyHeader(header) => {
            *legacy = Some(LegacyFormat {
                link: header.network,
                nanoseconds: header.is_nanosecond_precision(),
            });
            None
        }
        PcapBlockOwned::Legacy(packet) => {
            let format = legacy.context("a pcap record before the file header")?;
            let fraction = u64::from(packet.ts_usec);
            let fraction_ns = if format.nanoseconds {
                fraction
            } else {
                fraction * 1000
            };
            let caplen = (packet.caplen as usize).min(packet.data.len());
            Some((
                format.link,
                u64::from(packet.ts_sec) * NS_PER_S + fraction_ns,
                &packet.data[..caplen],
            ))
        }
        PcapBlockOwned::NG(Block::SectionHeader(_)) => {
            interfaces.clear();
            None
        }
        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
            interfaces.push(Interface {
                link: idb.linktype,
                resolution: TsResolution::from_tsresol(idb.if_tsresol),
                offset_s: idb.if_tsoffset,
            });
            None
        }
        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
            let Some(interface) = interfaces.get(epb.if_id as usize) else {
                bail!("packet on undeclared interface {}", epb.if_id);
            };
            let units = (u128::from(epb.ts_high) << 32) | u128::from(epb.ts_low);
            let ts_ns = interface
                .resolution
                .to_ns(units)
                .saturating_add_signed(interface.offset_s.saturating_mul(NS_PER_S as i64));
            Some((interface.link, ts_ns, epb.packet_data()))
        }
        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
            // No timestamp; the first interface's link type (RFC's rule for SPBs).
            let link = interfaces.first().map_or(Linktype::ETHERNET, |i| i.link);
            Some((link, 0, spb.packet_data()))
        }
        PcapBlockOwned::NG(_) => None,
    })
}

/// A pcapng interface's timestamp unit (`if_tsresol`): 10^-n s, or 2^-n s when the high bit
/// is set (pcap-parser gives 6, microseconds, when the option is absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TsResolution {
    Decimal(u8),
    Binary(u8),
}

impl TsResolution {
    fn from_tsresol(tsresol: u8) -> Self {
        if tsresol & 0x80 != 0 {
            TsResolution::Binary(tsresol & 0x7f)
        } else {
            TsResolution::Decimal(tsresol)
        }
    }

    /// Nanoseconds of `units` timestamp units, in integers: a double's 53 bits would lose up to
    /// 256 ns of today's epoch nanoseconds. Rounded down; saturates past u64.
    fn to_ns(self, units: u128) -> u64 {
        const NS_PER_S: u128 = 1_000_000_000;
        let ns = match self {
            TsResolution::Decimal(n) if n <= 9 => units * 10u128.pow(u32::from(9 - n)),
            TsResolution::Decimal(n) => units
                .checked_div(10u128.checked_pow(u32::from(n - 9)).unwrap_or(u128::MAX))
                .unwrap_or(0),
            // units < 2^64 (a pcapng timestamp is 64 bits), so units * 10^9 < 2^94.
            TsResolution::Binary(n) => (units * NS_PER_S).checked_shr(u32::from(n)).unwrap_or(0),
        };
        u64::try_from(ns).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::TsResolution;

    #[test]
    fn timestamps_convert_exactly_at_every_resolution() {
        // Today's epoch in ns needs 61 bits: every one of them must survive.
        let ns = 1_764_000_000_123_456_789u128;
        assert_eq!(TsResolution::from_tsresol(9).to_ns(ns), ns as u64);
        assert_eq!(
            TsResolution::from_tsresol(6).to_ns(ns / 1000),
            (ns / 1000 * 1000) as u64
        );
        assert_eq!(
            TsResolution::from_tsresol(12).to_ns(ns * 1000 + 999),
            ns as u64
        );
        // 2^-30 s units: 2^30 of them are one second.
        assert_eq!(
            TsResolution::from_tsresol(0x80 | 30).to_ns(3 << 30),
            3_000_000_000
        );
        assert_eq!(TsResolution::from_tsresol(0x80 | 30).to_ns(1), 0);
        assert_eq!(TsResolution::from_tsresol(0x7f).to_ns(ns), 0);
    }
}
