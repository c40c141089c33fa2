//! Presence across nodes (with `REDIS_URL`). Each node counts its own
//! connections (the [`Registry`](super::Registry)); Redis holds which nodes
//! a participant is connected to (`{prefix}:presence:{participant}`, a hash
//! of node ids), changed only when a node's own count starts or ends, by
//! scripts that say atomically whether that made the participant online or
//! offline anywhere: exactly one node publishes each change.
//!
//! A node that dies leaves its entries behind. Every node says it is alive
//! each [`HEARTBEAT`] (`{prefix}:node:{id}`, expiring after [`NODE_TTL`]);
//! each heartbeat also makes Redis' list of this node's participants match
//! its own (a JOIN or LEAVE lost while Redis was away or slow is made
//! then). The first node to find one expired claims its cleanup (removing it from
//! `{prefix}:nodes`), removes its entries and takes offline whoever was
//! connected only there.
//!
//! Who is online anywhere is also kept per tenant and role
//! (`{prefix}:online:{tenant}:{role}`, a set of participants, changed by
//! the same scripts), so the online counts are the deployment's, not one
//! node's.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use redis::{AsyncCommands, Script, aio::ConnectionManager};
use uuid::Uuid;

use crate::domain::{ParticipantId, TenantId, actor::Role, redis_link::RedisLink};

/// A participant connected to this node: their tenant, id and role.
pub type Here = (TenantId, ParticipantId, Role);

/// How often a node says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long a node that stopped saying so counts as alive.
const NODE_TTL: u64 = 15;

/// KEYS: presence hash, the node's set of members, the tenant's online
/// set for the participant's role. ARGV: node, member, participant. 1 when
/// this made the participant online anywhere.
const JOIN: &str = r"
local added = redis.call('HSET', KEYS[1], ARGV[1], 1)
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
if added == 1 and redis.call('HLEN', KEYS[1]) == 1 then return 1 end
return 0
";

/// KEYS and ARGV as [`JOIN`]. 1 when this made the participant offline
/// everywhere.
/// (Also when this node's entry was gone already — a failed JOIN, a
/// cleanup — so that nobody is left online for ever; at worst an offline
/// event is sent twice.)
const LEAVE: &str = r"
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[2])
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[3])
  return 1
end
return 0
";

/// KEYS: a node's alive key, the set of nodes, the node's set of members.
/// ARGV: the node, the prefix. If the node is dead and still listed, takes
/// it off the list, removes its entries and returns the members it leaves
/// offline everywhere; else nothing. (Reaches the presence hashes by name:
/// one Redis, not a Redis Cluster.)
const CLEANUP: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return {} end
if redis.call('SREM', KEYS[2], ARGV[1]) == 0 then return {} end
local gone = {}
for _, member in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  local tenant, who, role = string.match(member, '^([^:]+):([^:]+):([^:]+)$')
  if who then
    local key = ARGV[2] .. ':presence:' .. who
    redis.call('HDEL', key, ARGV[1])
    if redis.call('HLEN', key) == 0 then
      redis.call('SREM', ARGV[2] .. ':online:' .. tenant .. ':' .. role, who)
      table.insert(gone, member)
    end
  end
end
redis.call('DEL', KEYS[3])
return gone
";

/// Presence in Redis.
pub struct Shared {
    redis: RedisLink,
    prefix: String,
    node: Uuid,
    join: Script,
    leave: Script,
    cleanup: Script,
}

impl Shared {
    pub fn new(redis: RedisLink, prefix: &str, node: Uuid) -> Self {
        Self {
            redis,
            prefix: prefix.to_owned(),
            node,
            join: Script::new(JOIN),
            leave: Script::new(LEAVE),
            cleanup: Script::new(CLEANUP),
        }
    }

    fn presence_key(&self, who: ParticipantId) -> String {
        format!("{}:presence:{}", self.prefix, who.0.simple())
    }

    /// The key whose expiry says a node is dead.
    fn alive_key(&self, node: &str) -> String {
        format!("{}:node:{node}", self.prefix)
    }

    fn members_key(&self, node: &str) -> String {
        format!("{}:node-presence:{node}", self.prefix)
    }

    fn online_key(&self, tenant: TenantId, role: Role) -> String {
        format!(
            "{}:online:{}:{}",
            self.prefix,
            tenant.0.simple(),
            role.as_str()
        )
    }

    /// How the node's set of members names a participant: the script that
    /// cleans up after a dead node finds their presence and online keys by it.
    fn member(tenant: TenantId, who: ParticipantId, role: Role) -> String {
        format!("{}:{}:{}", tenant.0.simple(), who.0.simple(), role.as_str())
    }

    /// This node's first connection of `who`; whether they came online.
    pub async fn joined(&self, who: Here) -> redis::RedisResult<bool> {
        self.run(&self.join, who).await
    }

    /// This node's last connection of `who` ended (and the grace passed);
    /// whether they went offline.
    pub async fn left(&self, who: Here) -> redis::RedisResult<bool> {
        self.run(&self.leave, who).await
    }

    /// Runs JOIN or LEAVE for `who` on the hot path (bounded, skipped
    /// while Redis is away).
    async fn run(&self, script: &Script, who: Here) -> redis::RedisResult<bool> {
        self.redis
            .run(|mut conn| async move { self.invoke(&mut conn, script, who).await })
            .await
    }

    async fn invoke(
        &self,
        conn: &mut ConnectionManager,
        script: &Script,
        (tenant, who, role): Here,
    ) -> redis::RedisResult<bool> {
        let node = self.node.simple().to_string();
        let mut invocation = script.key(self.presence_key(who));
        invocation
            .key(self.members_key(&node))
            .key(self.online_key(tenant, role))
            .arg(&node)
            .arg(Self::member(tenant, who, role))
            .arg(who.0.simple().to_string());
        let changed: i32 = invocation.invoke_async(conn).await?;
        Ok(changed == 1)
    }

    /// How many of the tenant's participants are connected to any node, for
    /// each of `roles`.
    pub async fn counts(&self, tenant: TenantId, roles: &[Role]) -> redis::RedisResult<Vec<u32>> {
        let mut pipe = redis::pipe();
        for &role in roles {
            pipe.scard(self.online_key(tenant, role));
        }
        self.redis
            .run(|mut conn| async move { pipe.query_async(&mut conn).await })
            .await
    }

    /// Which of `who` are connected to any node (one round trip).
    pub async fn online_among(&self, who: &[ParticipantId]) -> redis::RedisResult<Vec<bool>> {
        let mut pipe = redis::pipe();
        for &p in who {
            pipe.hlen(self.presence_key(p));
        }
        let nodes: Vec<u32> = self
            .redis
            .run(|mut conn| async move { pipe.query_async(&mut conn).await })
            .await?;
        Ok(nodes.into_iter().map(|n| n > 0).collect())
    }

    /// Says this node is alive (after a Redis that lost its data, writing
    /// `here`, this node's connected participants, again), and cleans up
    /// after nodes that are not; returns who went offline with them.
    pub async fn heartbeat(&self, here: &[Here]) -> redis::RedisResult<Vec<Here>> {
        let mut conn = self.redis.conn();
        let me = self.node.simple().to_string();
        let nodes_key = format!("{}:nodes", self.prefix);
        // What Redis says this node holds is made to match what it holds:
        // a JOIN lost (Redis away, slow, or restarted empty) is made
        // again, a LEAVE lost is made now. Only then is the node alive.
        let listed: HashSet<String> = conn.smembers(self.members_key(&me)).await?;
        let held: HashMap<String, Here> = here
            .iter()
            .map(|&(tenant, who, role)| (Self::member(tenant, who, role), (tenant, who, role)))
            .collect();
        for (member, who) in &held {
            if !listed.contains(member) {
                self.invoke(&mut conn, &self.join, *who).await?;
            }
        }
        let mut gone = Vec::new();
        for member in listed.iter().filter(|m| !held.contains_key(*m)) {
            if let Some(who) = parse_member(member)
                && self.invoke(&mut conn, &self.leave, who).await?
            {
                gone.push(who);
            }
        }
        let _: () = conn.set_ex(self.alive_key(&me), 1, NODE_TTL).await?;
        let _: () = conn.sadd(&nodes_key, &me).await?;
        let nodes: Vec<String> = conn.smembers(&nodes_key).await?;
        let mut gone = Vec::new();
        for node in nodes.into_iter().filter(|n| *n != me) {
            // Claimed and cleaned in one script: a node that beats again in
            // between keeps its entries, and nothing is left half done.
            let mut invocation = self.cleanup.key(self.alive_key(&node));
            invocation
                .key(&nodes_key)
                .key(self.members_key(&node))
                .arg(&node)
                .arg(&self.prefix);
            let members: Vec<String> = invocation.invoke_async(&mut conn).await?;
            gone.extend(members.iter().filter_map(|m| parse_member(m)));
        }
        Ok(gone)
    }
}

impl Shared {
    /// This node stops: its alive key goes, so the next heartbeat of any
    /// other node cleans up after it (within [`HEARTBEAT`], not the
    /// [`NODE_TTL`] a killed node takes), taking offline only whoever did
    /// not reconnect to another node meanwhile.
    pub async fn retire(&self) -> redis::RedisResult<()> {
        let alive_key = self.alive_key(&self.node.simple().to_string());
        self.redis
            .run(|mut conn| async move { conn.del(alive_key).await })
            .await
    }
}

fn parse_member(member: &str) -> Option<Here> {
    let mut parts = member.split(':');
    let (tenant, who, role) = (parts.next()?, parts.next()?, parts.next()?);
    Some((
        TenantId(Uuid::parse_str(tenant).ok()?),
        ParticipantId(Uuid::parse_str(who).ok()?),
        Role::from_str_opt(role)?,
    ))
}
