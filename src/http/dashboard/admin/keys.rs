//! Admin: API keys of both environments – the list with expiry, and the new-key form (scopes and
//! environment; the secret shown once). Must not hash or store a secret itself (the keys commands do).

use super::{admit, answer, refused, secret_page};
use crate::commands::api_keys::{self as key_cmd, CreateKey};
use crate::domain::api_key::{ApiVersion, Environment, Inflection, KeyType, Scope, ALL_SCOPES, DEFAULT_SCOPES};
use crate::domain::ids::ApiKeyId;
use crate::domain::values::{Label, Timestamp};
use crate::error::AppError;
use crate::http::dashboard::auth::SignedIn;
use crate::http::dashboard::directory::{badge, field_error, opt, when, Fields};
use crate::http::dashboard::layout::{escape, PageResult};
use crate::http::AppState;
use crate::queries::api_keys::ApiKeyView;
use actix_web::{web, HttpRequest};

fn key_expired(k: &ApiKeyView, now: &str) -> bool {
    !k.is_active || k.expires_at.as_deref().is_some_and(|e| e <= now)
}

/// A key's scopes; a key with every scope says so instead of listing them.
fn scopes_of(scopes: &[String]) -> String {
    if ALL_SCOPES.iter().all(|a| scopes.iter().any(|s| s == a)) {
        return "<span class=\"badge\">all scopes</span>".into();
    }
    scopes.iter().map(|s| format!("<code>{}</code>", escape(s))).collect::<Vec<_>>().join(" ")
}

pub(super) fn table(keys: &[ApiKeyView], now: &str, csrf: &str) -> String {
    let rows: String = keys
        .iter()
        .map(|k| {
            let expired = key_expired(k, now);
            let action = if expired {
                String::new()
            } else {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"/dashboard/admin/api-keys/{id}/expire\" \
                     data-confirm=\"Expire this key? Requests using it will be refused.\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"environment\" value=\"{env}\">\
                     <button type=\"submit\" class=\"danger\">Expire</button></form>",
                    id = escape(k.id.as_str()),
                    env = escape(&k.environment),
                )
            };
            format!(
                "<tr data-key=\"{id}\"><td>{label}<div><code>{prefix}…</code></div></td><td><span class=\"env-tag {env}\">{env}</span> {kind}</td>\
                 <td class=\"scopes\">{scopes}</td><td>{state}</td><td>{expires}</td><td>{created}</td><td>{action}</td></tr>",
                id = escape(k.id.as_str()),
                label = opt(k.label.as_deref()),
                prefix = escape(&k.key_prefix),
                env = escape(&k.environment),
                kind = escape(&k.key_type),
                scopes = scopes_of(&k.scopes),
                state = if expired { badge("expired") } else { badge("active") },
                expires = k.expires_at.as_deref().map(when).unwrap_or_else(|| opt(None)),
                created = when(&k.created_at),
            )
        })
        .collect();
    format!(
        "<div class=\"table-wrap\"><table class=\"keys\"><thead><tr><th scope=\"col\">Key</th><th scope=\"col\">Environment</th>\
         <th scope=\"col\">Scopes</th><th scope=\"col\">State</th><th scope=\"col\">Expires</th><th scope=\"col\">Created</th>\
         <th scope=\"col\"></th></tr></thead><tbody>{rows}</tbody></table></div>"
    )
}

pub(super) fn new_form(csrf: &str, environment: &str) -> String {
    let envs: String = ["live", "sandbox"]
        .iter()
        .map(|e| format!("<option value=\"{e}\"{}>{e}</option>", if *e == environment { " selected" } else { "" }))
        .collect();
    let scopes: String = ALL_SCOPES
        .iter()
        .map(|s| {
            let checked = if DEFAULT_SCOPES.contains(s) { " checked" } else { "" };
            format!("<label class=\"check\"><input type=\"checkbox\" name=\"scopes\" value=\"{s}\"{checked}> <code>{s}</code></label>")
        })
        .collect();
    format!(
        "<details class=\"card create\"><summary>New API key</summary>\
         <form method=\"post\" action=\"/dashboard/admin/api-keys\" autocomplete=\"off\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><div class=\"form-grid\">\
         <div><label for=\"k-label\">Label</label><input id=\"k-label\" name=\"label\" maxlength=\"100\"></div>\
         <div><label for=\"k-environment\">Environment</label><select id=\"k-environment\" name=\"environment\">{envs}</select></div>\
         <div><label for=\"k-expires\">Expires (optional)</label><input id=\"k-expires\" name=\"expires_at\" type=\"date\"></div></div>\
         <fieldset class=\"scopes\"><legend>Scopes</legend>{scopes}</fieldset>\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\">Create key</button></div></form></details>"
    )
}

fn parse_new_key(form: &Fields) -> Result<CreateKey, AppError> {
    let environment = Environment::parse_field("environment", form.get("environment").unwrap_or(""))?;
    let scopes = form.all("scopes").into_iter().map(|s| Scope::parse("scopes", s)).collect::<Result<Vec<_>, _>>()?;
    if scopes.is_empty() {
        return Err(AppError::validation("scopes", "choose at least one scope"));
    }
    let label = form.get("label").map(|l| Label::parse("label", l)).transpose().map_err(field_error)?;
    let expires_at = match form.get("expires_at") {
        None => None,
        Some(d) if d.len() == 10 => {
            Some(Timestamp::parse("expires_at", &format!("{d}T00:00:00Z")).map_err(field_error)?)
        }
        Some(t) => Some(Timestamp::parse("expires_at", t).map_err(field_error)?),
    };
    Ok(CreateKey {
        key_type: KeyType::Secret,
        environment,
        scopes,
        allowed_ips: None,
        api_version: ApiVersion::CURRENT,
        default_key_inflection: Inflection::Snake,
        label,
        note: None,
        expires_at,
    })
}

#[tracing::instrument(skip_all)]
pub(super) async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn(reviewer): SignedIn,
    body: web::Bytes,
) -> PageResult {
    let form = Fields::parse(&body);
    admit(&reviewer, &form)?;
    let result = async {
        let input = parse_new_key(&form)?;
        let environment = input.environment.as_str();
        let mut meta = reviewer.meta(&req, state.now());
        meta.environment = environment.to_string();
        let scopes = Scope::strings(&input.scopes).join(", ");
        let secret = key_cmd::create(&state.writer, meta, input).await?;
        Ok::<_, AppError>((environment, scopes, secret))
    }
    .await;
    match result {
        Ok((environment, scopes, secret)) => {
            let details = format!(
                "<dl class=\"fields\"><dt>Key</dt><dd><code>{id}</code></dd><dt>Environment</dt><dd>{environment}</dd>\
                 <dt>Scopes</dt><dd><code>{scopes}</code></dd></dl>",
                id = escape(&secret.id),
                scopes = escape(&scopes),
            );
            Ok(secret_page(&reviewer, "API key created", "Secret key (send it as X-API-Key)", &secret.secret, &details))
        }
        Err(e) => refused(&state, &reviewer, e).await,
    }
}

#[tracing::instrument(skip_all)]
pub(super) async fn expire(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn(reviewer): SignedIn,
    path: web::Path<String>,
    body: web::Bytes,
) -> PageResult {
    let form = Fields::parse(&body);
    admit(&reviewer, &form)?;
    let result = async {
        let id = ApiKeyId::parse("api_key_id", &path).map_err(|_| AppError::not_found("API key"))?;
        let environment = Environment::parse_field("environment", form.get("environment").unwrap_or(""))?;
        let mut meta = reviewer.meta(&req, state.now());
        meta.environment = environment.as_str().to_string();
        key_cmd::expire(&state.writer, meta, id, None).await?;
        state.auth.invalidate();
        Ok::<_, AppError>(())
    }
    .await;
    answer(&state, &reviewer, result, "key_expired").await
}
