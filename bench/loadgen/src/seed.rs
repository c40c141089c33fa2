//! What `samvad bench seed --json` printed, and the seats (one connection
//! each) made from it.

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::{Args, Scenario, conn::Seat};

#[derive(Deserialize)]
pub(crate) struct SeedOutput {
    pub(crate) data: SeedData,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeedData {
    pub(crate) tenant_id: String,
    pub(crate) pairs: Vec<SeedPair>,
    /// The group of every seeded participant (`--group`).
    pub(crate) group_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeedPair {
    pub(crate) conversation_id: String,
    pub(crate) user: SeedParty,
    pub(crate) astrologer: SeedParty,
}

#[derive(Deserialize)]
pub(crate) struct SeedParty {
    pub(crate) token: String,
}

/// One connection per seat, from the seed: pairs seat both parties of each
/// conversation as each other's peers; a group seats every participant in
/// the one group.
pub(crate) fn seats(args: &Args, seed: &SeedData) -> anyhow::Result<Vec<Seat>> {
    let pairs_needed = args.connections.div_ceil(2);
    if args.connections < 2 || pairs_needed > seed.pairs.len() {
        bail!(
            "--connections {} needs {pairs_needed} pairs; the seed has {}",
            args.connections,
            seed.pairs.len()
        );
    }
    let group = match args.scenario {
        Scenario::Group => Some(
            seed.group_id
                .clone()
                .context("the group scenario needs a seed made with --group")?,
        ),
        _ => None,
    };
    let mut seats = Vec::with_capacity(args.connections);
    for (i, pair) in seed.pairs.iter().take(pairs_needed).enumerate() {
        let (a, b) = (2 * i as u32, 2 * i as u32 + 1);
        let conversation = group
            .clone()
            .unwrap_or_else(|| pair.conversation_id.clone());
        let peer = |p| if group.is_some() { None } else { Some(p) };
        seats.push(Seat {
            idx: a,
            peer: peer(b),
            token: pair.user.token.clone(),
            conversation: conversation.clone(),
            source: None,
        });
        seats.push(Seat {
            idx: b,
            peer: peer(a),
            token: pair.astrologer.token.clone(),
            conversation,
            source: None,
        });
    }
    // Pairs keep whole conversations (an odd N rounds up); a group takes N.
    seats.truncate(if group.is_some() {
        args.connections
    } else {
        pairs_needed * 2
    });
    Ok(seats)
}
