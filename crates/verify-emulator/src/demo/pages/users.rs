//! Start page: the user picker and the "create user" form.

use axum::extract::{Extension, Form, State};
use axum::response::{Html, Redirect};
use serde::Deserialize;

use super::super::csrf::CsrfToken;
use super::super::error::DemoError;
use super::super::html::{self, esc};
use super::super::state::DemoState;
use super::{display_name, identity_for};

/// `GET /`: lists the service's entities with links to enrol and sign in.
pub async fn index(
    State(state): State<DemoState>,
    Extension(csrf): Extension<CsrfToken>,
) -> Result<Html<String>, DemoError> {
    let service = state.service_sid().await?.to_owned();
    let entities = state.api().list_entities(&service).await?;
    let mut body = format!(
        r#"<p class="muted">Verify Service <code data-testid="service-sid">{}</code> · API <code>{}</code></p>
<h2>Create a user</h2>
<form method="post" action="/demo/users" class="inline">
{}
<label for="username">Username</label>
<input type="text" id="username" name="username" required maxlength="64" autocomplete="off">
<button type="submit">Create user</button>
</form>
<h2>Users</h2>
"#,
        esc(&service),
        esc(state.api().api_base().as_str()),
        csrf.hidden_input(),
    );
    if entities.is_empty() {
        body.push_str(r#"<p data-testid="no-users">No users yet. Create one above.</p>"#);
    } else {
        body.push_str(
            "<table data-testid=\"user-list\"><thead><tr><th>User</th><th>Identity</th><th></th></tr></thead><tbody>",
        );
        for entity in &entities {
            let id = &entity.identity;
            let name = display_name(state.name_of(id), id);
            body.push_str(&format!(
                r#"<tr data-identity="{id}"><td>{name}</td><td><code title="{id}">{short}…</code></td><td><a href="/demo/enroll?identity={id}">Enrol a device</a> · <a href="/demo/signin?identity={id}">Sign in</a></td></tr>"#,
                id = esc(id),
                name = esc(&name),
                short = esc(&id.chars().take(16).collect::<String>()),
            ));
        }
        body.push_str("</tbody></table>");
    }
    Ok(html::page("Users", &body, None))
}

/// Form body of `POST /users`.
#[derive(Debug, Deserialize)]
pub struct NewUser {
    username: String,
}

/// `POST /users`: creates the entity (identity = SHA-256 of the username) and goes to enrolment.
pub async fn create(
    State(state): State<DemoState>,
    Form(form): Form<NewUser>,
) -> Result<Redirect, DemoError> {
    let username = form.username.trim();
    if username.is_empty() || username.chars().count() > 64 {
        return Err(DemoError::Input(
            "username must be 1 to 64 characters".into(),
        ));
    }
    let identity = identity_for(username);
    let service = state.service_sid().await?.to_owned();
    state.api().ensure_entity(&service, &identity).await?;
    state.remember(&identity, username);
    Ok(Redirect::to(&format!("/demo/enroll?identity={identity}")))
}
