//! `samvad bench seed`: the participants, conversations and access tokens a
//! load test needs, made through the core in seconds rather than through
//! thousands of password logins (argon2 makes those slow on purpose).
//!
//! For each of `--pairs` pairs it creates a user and an astrologer (no
//! passwords), records an active consultation between them (what lets a user
//! talk to an astrologer), opens their direct conversation as the user, and
//! starts a device session for each, printing the access tokens. The tenant
//! is created when missing, and its send limit is lifted (a load test sends
//! far more than 30 messages a minute per participant). Development only:
//! refused when `SAMVAD_ENV=production`.
//!
//! With `--group` it also creates one group conversation whose members are
//! every seeded participant (owned by the first pair's user, through
//! `Core::create_group`, so the core's group size limit applies) and prints
//! its id as `groupId`: the load test's group scenario sends there.
//!
//! The tokens live for `SAMVAD_ACCESS_TOKEN_TTL` and are signed with
//! `SAMVAD_JWT_SECRET`: run the server with the same two. Without the
//! secret, both use the development secret kept in `data_dir/jwt.key`, so
//! a server on the same `SAMVAD_DATA_DIR` accepts the tokens.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::{
    auth::Auth,
    config::{Config, Environment},
    db,
    domain::{
        Actor, Core, Credential, ParticipantId, Role, TenantId,
        conversation::{ContextType, DirectKey, NewGroup},
        participant::{Participant, ParticipantInput, ParticipantType},
        relationship::ConsultationStatus,
        session::Device,
        settings::Rate,
        tenant::NewTenant,
        values::{Email, Name, Password, Slug},
    },
    error::{AppError, AppResult},
    state,
};

/// How many pairs are seeded at once (each pair is six short transactions,
/// about 35 statements; more in flight let MySQL group their commits: the
/// connections scenario seeds 25,000 pairs).
pub(crate) const IN_FLIGHT: usize = 32;

/// Most pairs one run seeds.
pub(crate) const MAX_PAIRS: usize = 100_000;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Seed a tenant with user-astrologer pairs in direct conversations and
    /// print an access token for each participant (dev only)
    Seed(SeedArgs),
    /// Seed pairs, then drive the core's send_message in-process with
    /// concurrent senders and print sends/s, latency, CPU per message and
    /// a verification of what was stored (dev only; see `bench_core`)
    Core(crate::bench_core::CoreArgs),
}

#[derive(Args)]
pub struct SeedArgs {
    /// Tenant slug; created when missing
    #[arg(long, default_value = "bench")]
    tenant: String,
    /// How many user-astrologer pairs (one conversation each)
    #[arg(long)]
    pairs: usize,
    /// Also create one group conversation with every seeded participant
    /// as a member (the first user owns it); its id is printed as `groupId`
    #[arg(long)]
    group: bool,
    /// Print one JSON object (with the tokens) instead of a summary
    #[arg(long)]
    json: bool,
}

impl BenchCommand {
    pub fn json(&self) -> bool {
        match self {
            Self::Seed(args) => args.json,
            Self::Core(args) => args.json(),
        }
    }
}

/// Runs a bench command: the data (with tokens) and a one-line summary.
pub async fn run(config: &Config, command: BenchCommand) -> AppResult<(Value, String)> {
    let args = match command {
        BenchCommand::Seed(args) => args,
        BenchCommand::Core(args) => return crate::bench_core::run(config, args).await,
    };
    if config.env == Environment::Production {
        return Err(AppError::forbidden(
            "bench seed is for development databases; it is refused when SAMVAD_ENV=production",
        ));
    }
    if !(1..=MAX_PAIRS).contains(&args.pairs) {
        return Err(AppError::validation(format!(
            "--pairs must be 1-{MAX_PAIRS}"
        )));
    }
    let slug = Slug::parse(&args.tenant)?;
    let pool = db::prepare(config.database_url.expose(), IN_FLIGHT as u32 + 2)
        .await
        .map_err(AppError::Internal)?;
    let core = state::build_core(config, pool.clone()).map_err(AppError::Internal)?;
    let auth = Auth::new(core.clone(), config)
        .await
        .map_err(AppError::Internal)?;
    let result = seed(&core, &auth, &slug, args.pairs, args.group).await;
    pool.close().await;
    result
}

/// Also what `bench core` seeds with.
pub(crate) async fn seed(
    core: &Core,
    auth: &Auth,
    slug: &Slug,
    pairs: usize,
    group: bool,
) -> AppResult<(Value, String)> {
    let started = Instant::now();
    let (tenant, admin) = tenant_and_admin(core, slug).await?;
    let (admin, _) = session_for(core, auth, &admin).await?;
    let mut settings = (*core.settings_of(tenant).await?).clone();
    settings.messages_per_participant = Rate::new(100_000, 1);
    core.update_settings(&admin, settings, None).await?;

    // Workers take the next index until none is left; a failure stops them all.
    let run = uuid::Uuid::now_v7().simple().to_string();
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT.min(pairs) {
        let (core, auth, admin, next, run) = (
            core.clone(),
            auth.clone(),
            admin.clone(),
            next.clone(),
            run.clone(),
        );
        workers.spawn(async move {
            let mut made = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= pairs {
                    return Ok::<_, AppError>(made);
                }
                match pair(&core, &auth, &admin, tenant, &run, i).await {
                    Ok(p) => made.push((i, p)),
                    Err(err) => {
                        next.store(pairs, Ordering::Relaxed);
                        return Err(err);
                    }
                }
            }
        });
    }
    let mut made = Vec::with_capacity(pairs);
    while let Some(joined) = workers.join_next().await {
        let part = joined.map_err(|err| AppError::Internal(err.into()))??;
        made.extend(part);
    }
    made.sort_by_key(|(i, _)| *i);
    let group = match (group, made.first()) {
        (true, Some((_, first))) => {
            let members: Vec<ParticipantId> = made
                .iter()
                .flat_map(|(_, p)| [p.user, p.astrologer])
                .collect();
            let conversation = core
                .create_group(
                    &first.user_actor,
                    NewGroup {
                        title: Name::parse("Bench group")?,
                        members: members.clone(),
                        context_type: ContextType::General,
                        context_id: None,
                    },
                )
                .await?;
            Some((conversation.id, members.len()))
        }
        _ => None,
    };
    let seconds = started.elapsed().as_secs_f64();
    let mut data = json!({
        "tenant": slug.as_str(),
        "tenantId": tenant,
        "pairs": made.into_iter().map(|(_, p)| p.json).collect::<Vec<_>>(),
        "seconds": (seconds * 10.0).round() / 10.0,
    });
    if let Some((id, members)) = group {
        data["groupId"] = json!(id);
        data["groupMembers"] = json!(members);
    }
    let text = format!(
        "seeded {pairs} user-astrologer pairs with conversations and sessions{} in `{}` in {seconds:.1} s (use --json for the tokens)",
        group
            .map(|(_, members)| format!(" and a group of all {members}"))
            .unwrap_or_default(),
        slug.as_str()
    );
    Ok((data, text))
}

/// The tenant by slug and an admin to act as: the tenant's first admin
/// when this run creates the tenant, otherwise a new bench admin.
async fn tenant_and_admin(core: &Core, slug: &Slug) -> AppResult<(TenantId, Participant)> {
    if let Some(tenant) = core.tenant_by_slug(slug.as_str()).await? {
        let admin = core
            .create_participant(
                None,
                tenant.id,
                participant(ParticipantType::Admin, "Bench Admin")?,
            )
            .await?;
        return Ok((tenant.id, admin));
    }
    // The admin's password is never used: the seed acts through a session.
    let password = crate::domain::secrets::random();
    let (tenant, admin) = core
        .create_tenant(
            None,
            NewTenant {
                slug: slug.clone(),
                name: Name::parse("Bench")?,
                admin_email: Email::parse(&format!("admin@{}.bench.test", slug.as_str()))?,
                admin_password: Password::parse(&password)?,
                admin_name: None,
            },
        )
        .await?;
    Ok((tenant.id, admin))
}

fn participant(kind: ParticipantType, name: &str) -> AppResult<ParticipantInput> {
    Ok(ParticipantInput {
        kind,
        name: Name::parse(name)?,
        email: None,
        phone: None,
        password: None,
        legacy_id: None,
    })
}

fn device() -> Device {
    Device {
        name: Some("bench".to_owned()),
        user_agent: Some("samvad bench seed".to_owned()),
        ..Device::default()
    }
}

/// A new device session for `p`: `p` acting through it, and its access token.
async fn session_for(core: &Core, auth: &Auth, p: &Participant) -> AppResult<(Actor, String)> {
    let issued = core.start_session(p, &device(), "bench.seed").await?;
    let actor = Actor {
        tenant: Some(p.tenant_id),
        id: p.id.0,
        role: Role::from(p.kind),
        credential: Credential::Session(issued.session),
        ip: None,
    };
    Ok((actor, auth.tokens(issued)?.access_token))
}

/// A seeded pair: what is printed, and what the group needs.
struct Pair {
    json: Value,
    user: ParticipantId,
    astrologer: ParticipantId,
    /// The user acting through its session (the first one owns the group).
    user_actor: Actor,
}

/// One pair: user, astrologer, consultation, conversation, two sessions.
async fn pair(
    core: &Core,
    auth: &Auth,
    admin: &Actor,
    tenant: TenantId,
    run: &str,
    i: usize,
) -> AppResult<Pair> {
    let tag = &run[run.len() - 6..];
    let user = core
        .create_participant(
            None,
            tenant,
            participant(ParticipantType::User, &format!("Bench User {tag}-{i}"))?,
        )
        .await?;
    let astrologer = core
        .create_participant(
            None,
            tenant,
            participant(
                ParticipantType::Astrologer,
                &format!("Bench Astrologer {tag}-{i}"),
            )?,
        )
        .await?;
    core.record_consultation(
        admin,
        user.id,
        astrologer.id,
        ConsultationStatus::Active,
        None,
    )
    .await?;
    let (as_user, user_token) = session_for(core, auth, &user).await?;
    let (_, astrologer_token) = session_for(core, auth, &astrologer).await?;
    let conversation = core
        .open_direct(&as_user, DirectKey::general(astrologer.id))
        .await?;
    Ok(Pair {
        json: json!({
            "conversationId": conversation.id,
            "user": { "id": user.id, "token": user_token },
            "astrologer": { "id": astrologer.id, "token": astrologer_token },
        }),
        user: user.id,
        astrologer: astrologer.id,
        user_actor: as_user,
    })
}
