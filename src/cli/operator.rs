//! The operator commands (`superadmin create`, `tenant create`,
//! `participant create`): their arguments and what each runs against the
//! core.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::report;
use crate::{
    config::Config,
    db,
    domain::{
        Core,
        participant::{ParticipantInput, ParticipantType},
        tenant::NewTenant,
        values::{Email, Name, Password, Slug, optional_text},
    },
    error::{AppError, AppResult},
    state,
};

#[derive(Subcommand)]
pub enum SuperadminCommand {
    /// Create a superadmin
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant with default policies and its first admin
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        admin_email: String,
        #[arg(long)]
        admin_password: String,
        #[arg(long)]
        admin_name: Option<String>,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Subcommand)]
pub enum ParticipantCommand {
    /// Create a participant
    Create {
        /// Tenant slug
        #[arg(long)]
        tenant: String,
        /// user, astrologer or admin
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        password: Option<String>,
        /// The account's id in an old backend (its old tokens then work)
        #[arg(long)]
        legacy_id: Option<String>,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Args)]
pub struct Output {
    /// Print one JSON object instead of text
    #[arg(long)]
    json: bool,
}

/// An operator command: runs against the core, prints text or one JSON object.
pub trait OperatorCommand {
    fn json(&self) -> bool;
    async fn run(self, core: &Core) -> AppResult<(Value, String)>;
}

pub async fn operator(config: &Config, command: impl OperatorCommand) -> ExitCode {
    let json = command.json();
    let pool = match db::prepare(config.database_url.expose(), 2).await {
        Ok(pool) => pool,
        Err(err) => return report(json, Err(AppError::Internal(err))),
    };
    let core = match state::build_core(config, pool.clone()) {
        Ok(core) => core,
        Err(err) => return report(json, Err(AppError::Internal(err))),
    };
    let result = command.run(&core).await;
    pool.close().await;
    report(json, result)
}

impl OperatorCommand for SuperadminCommand {
    fn json(&self) -> bool {
        let Self::Create { output, .. } = self;
        output.json
    }

    async fn run(self, core: &Core) -> AppResult<(Value, String)> {
        let Self::Create {
            email, password, ..
        } = self;
        let admin = core
            .create_superadmin(Email::parse(&email)?, &Password::parse(&password)?)
            .await?;
        Ok((
            json!({ "id": admin.id, "email": admin.email }),
            format!("created superadmin {} ({})", admin.email, admin.id),
        ))
    }
}

impl OperatorCommand for TenantCommand {
    fn json(&self) -> bool {
        let Self::Create { output, .. } = self;
        output.json
    }

    async fn run(self, core: &Core) -> AppResult<(Value, String)> {
        let Self::Create {
            slug,
            name,
            admin_email,
            admin_password,
            admin_name,
            ..
        } = self;
        let new = NewTenant {
            slug: Slug::parse(&slug)?,
            name: Name::parse(&name)?,
            admin_email: Email::parse(&admin_email)?,
            admin_password: Password::parse(&admin_password)?,
            admin_name: admin_name.as_deref().map(Name::parse).transpose()?,
        };
        let (tenant, admin) = core.create_tenant(None, new).await?;
        Ok((
            json!({ "tenantId": tenant.id, "slug": tenant.slug, "adminId": admin.id }),
            format!(
                "created tenant `{}` ({}) with admin {}",
                tenant.slug, tenant.id, admin.id
            ),
        ))
    }
}

impl OperatorCommand for ParticipantCommand {
    fn json(&self) -> bool {
        let Self::Create { output, .. } = self;
        output.json
    }

    async fn run(self, core: &Core) -> AppResult<(Value, String)> {
        let Self::Create {
            tenant,
            role,
            name,
            email,
            phone,
            password,
            legacy_id,
            ..
        } = self;
        let tenant = core
            .tenant_by_slug(&tenant)
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        let input = ParticipantInput {
            kind: ParticipantType::parse(&role)?,
            name: Name::parse(&name)?,
            email: email.as_deref().map(Email::parse).transpose()?,
            phone,
            password: password.as_deref().map(Password::parse).transpose()?,
            legacy_id: optional_text(legacy_id.as_deref(), "legacy id", 64)?,
        };
        let created = core.create_participant(None, tenant.id, input).await?;
        Ok((
            json!({ "id": created.id, "tenantId": tenant.id, "type": created.kind.as_str() }),
            format!(
                "created {} {} ({}) in `{}`",
                created.kind.as_str(),
                created.name,
                created.id,
                tenant.slug
            ),
        ))
    }
}
