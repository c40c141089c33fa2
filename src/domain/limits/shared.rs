//! The counts in Redis, when several nodes share them: GCRA in one Lua
//! script call for one check or a batch of them.

use super::{Count, Scope};
use crate::{
    domain::redis_link::RedisLink,
    error::{AppError, AppResult},
};

/// The counts in Redis.
pub(super) struct Shared {
    redis: RedisLink,
    prefix: String,
    gcra: redis::Script,
}

/// GCRA on Redis' clock, for each key in turn (so one key twice counts
/// twice): KEYS[i] holds its theoretical arrival time (ms); ARGV[2i-1] and
/// ARGV[2i] its interval between events (ms) and its burst. Returns, for
/// each key, 0 when allowed, else the milliseconds to wait.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local waits = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - burst * interval
  if allow_at > now then
    waits[i] = math.ceil(allow_at - now)
  else
    redis.call('SET', key, tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
    waits[i] = 0
  end
end
return waits
";

impl Shared {
    pub(super) fn new(redis: RedisLink, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.to_owned(),
            gcra: redis::Script::new(GCRA),
        }
    }

    /// Counts each of `counts`, in order, in one script call.
    pub(super) async fn check(
        &self,
        counts: &[(Count<'_>, Scope)],
    ) -> redis::RedisResult<Vec<AppResult<()>>> {
        use sha2::Digest;
        let mut invocation = self.gcra.prepare_invoke();
        for (
            Count {
                tenant,
                kind,
                rate,
                key,
            },
            scope,
        ) in counts
        {
            let digest = sha2::Sha256::digest(key.as_bytes());
            let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
            // The rate is in the key: a changed limit starts afresh, as locally.
            let max = rate.max.max(1);
            invocation
                .key(format!(
                    "{}:rl:{}:{kind:?}:{scope:?}:{}-{}:{hex}",
                    self.prefix,
                    tenant.0.simple(),
                    rate.max,
                    rate.per_secs
                ))
                .arg(f64::from(rate.per_secs.max(1)) * 1000.0 / f64::from(max))
                .arg(max);
        }
        let waits: Vec<u64> = self
            .redis
            .run(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await?;
        if waits.len() != counts.len() {
            return Err(redis::RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "not one answer per rate check",
            )));
        }
        Ok(waits
            .into_iter()
            .map(|wait_ms| {
                if wait_ms == 0 {
                    Ok(())
                } else {
                    Err(AppError::TooManyRequests {
                        retry_after_secs: wait_ms.div_ceil(1000).max(1),
                    })
                }
            })
            .collect())
    }
}
