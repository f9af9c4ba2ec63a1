//! `sequencer replay`: the sequencer core run offline over a capture, so any capture can be
//! sequenced and checked without a network.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;

use dataplane::config::ClusterConfig;
use dataplane::oum::{AUTH_TAG_LEN, SequencerStats, SessionNumber, Verdict};
use dataplane::pcap::{LINKTYPE_ETHERNET, PcapReader, PcapWriter};

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub input: PathBuf,
    pub output: PathBuf,
    pub session: u16,
}

/// What a replay did.
#[derive(Debug, Clone)]
pub struct ReplaySummary {
    pub frames: u64,
    pub written: u64,
    pub stats: SequencerStats,
    group_names: Vec<String>,
    group_members: Vec<Vec<u16>>,
}

impl fmt::Display for ReplaySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "replay: {} frames read, {} stamped and written, {} dropped (session {})",
            self.frames,
            self.written,
            self.stats.drops.total(),
            self.stats.session
        )?;
        for ((name, members), g) in self
            .group_names
            .iter()
            .zip(&self.group_members)
            .zip(&self.stats.groups)
        {
            writeln!(
                f,
                "  group {name} ({}): {} stamped, message numbers 1..={}, to members {members:?}",
                g.address, g.stamped, g.last_msgnum
            )?;
        }
        for (reason, count) in self.stats.drops.nonzero() {
            writeln!(f, "  dropped {reason}: {count}")?;
        }
        Ok(())
    }
}

pub fn replay(config: &ClusterConfig, options: &ReplayOptions) -> Result<ReplaySummary, String> {
    let input = File::open(&options.input)
        .map_err(|e| format!("cannot open --in {}: {e}", options.input.display()))?;
    let mut reader = PcapReader::new(BufReader::new(input))
        .map_err(|e| format!("--in {}: {e}", options.input.display()))?;
    if reader.link_type() != LINKTYPE_ETHERNET {
        return Err(format!(
            "--in {}: link type {} is not Ethernet (1); capture on an Ethernet interface",
            options.input.display(),
            reader.link_type()
        ));
    }
    let output = File::create(&options.output)
        .map_err(|e| format!("cannot create --out {}: {e}", options.output.display()))?;
    let mut writer = PcapWriter::new(
        BufWriter::new(output),
        LINKTYPE_ETHERNET,
        reader.snaplen().max(65535),
    )
    .map_err(|e| format!("--out {}: {e}", options.output.display()))?;
    let mut sequencer = config.sequencer(SessionNumber(options.session))?;

    let mut frame = Vec::with_capacity(2048);
    let mut frames = 0;
    let mut written = 0;
    while let Some(mut header) = reader
        .next_record(&mut frame)
        .map_err(|e| format!("--in {}: {e}", options.input.display()))?
    {
        frames += 1;
        // Room for a keyed group's tag, which the sealed frame grows into.
        let len = frame.len();
        frame.resize(len + AUTH_TAG_LEN, 0);
        let verdict = sequencer.stamp_frame_in(&mut frame[..len], AUTH_TAG_LEN);
        let out = match verdict {
            Some(Verdict::Multicast { group, .. }) if sequencer.seals(group) => {
                sequencer.seal_frame(group, &mut frame)
            }
            Some(Verdict::Multicast { .. }) => Some(len),
            _ => None,
        };
        if let Some(out) = out {
            if out != len {
                // A sealed frame is whole (the parser took it), so its length on the wire
                // is what is written.
                header.orig_len = out as u32;
            }
            frame.truncate(out);
            writer
                .write_record(header, &frame)
                .map_err(|e| format!("--out {}: {e}", options.output.display()))?;
            written += 1;
        }
    }
    writer
        .flush()
        .map_err(|e| format!("--out {}: {e}", options.output.display()))?;
    Ok(ReplaySummary {
        frames,
        written,
        stats: sequencer.stats(),
        group_names: config.groups.iter().map(|g| g.name.clone()).collect(),
        group_members: config.groups.iter().map(|g| config.members(g)).collect(),
    })
}
