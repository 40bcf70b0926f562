//! The dead-letter store: the one object `deadletters:main` keeps the fallback jobs that will
//! not be sent ([`herald_core::exchange::dead_letters`]) in its SQLite. Its calls come from
//! the Worker only: the fallback consumers keep jobs and leave notes, the admin list reads
//! pages.
//!
//! | call | body / query | answer |
//! |---|---|---|
//! | `POST /dead-letters` | [`DeadLetter`] | `{}` once stored |
//! | `POST /dead-letters/notes` | [`ReasonNote`] | `{}` once stored |
//! | `GET /dead-letters` | `limit`, `cursor`? | a page: `{"jobs": [...], "next"}` |
//! | `POST /push/breaker` | [`GoneReport`] | [`BreakerAnswer`]: whether that provider's "gone" answers are to be believed |
//!
//! The push breaker lives here because it must be one for the whole deployment, like the
//! dead letters: each provider's recent answers, in the object's SQLite (`push_breakers`).

use crate::sql::DurableSql;
use herald_core::error::{Error, ErrorCode};
use herald_core::exchange::dead_letters::{DeadLetter, DeadLetters, ListQuery, ReasonNote};
use herald_core::exchange::push::breaker;
use herald_core::internal::{BreakerAnswer, GoneReport, DEAD_LETTERS, DEAD_LETTER_NOTES, PUSH_BREAKER};
use herald_core::object::Role;
use herald_platform::respond::{self, internal};
use herald_platform::{config, now_ms, query_param, Url};
use serde::de::DeserializeOwned;
use worker::{Env, Method, Request, Response, State};

/// One call to the store, when this object (`role`) is it. Each runs to completion without an
/// `.await` between reading and writing, so calls never interleave.
pub async fn handle(state: &State, env: &Env, role: &Role, req: &mut Request) -> Result<Response, Error> {
    if *role != Role::DeadLetters {
        return Err(Error::internal(format!("object {role:?} does not keep dead letters")));
    }
    let store = DeadLetters::open(DurableSql(state.storage().sql()))
        .map_err(|e| Error::internal(format!("could not open the dead letters: {e}")))?;
    let stored = |e| Error::internal(format!("the dead letters could not be written: {e}"));
    // A POST's body is read here, once for every route (one `.await` in this function's code).
    let method = req.method();
    let text = if method == Method::Post { req.text().await.map_err(internal)? } else { String::new() };
    match (method, req.path().as_str()) {
        (Method::Post, PUSH_BREAKER) => {
            let report: GoneReport = body(&text)?;
            let rule = &config(env)?.fallback.push.breaker;
            let tripped = breaker::report(&DurableSql(state.storage().sql()), rule, now_ms(), &report)
                .map_err(|e| Error::internal(format!("the push breaker could not be kept: {e}")))?;
            let answer =
                serde_json::to_string(&BreakerAnswer { tripped }).map_err(|e| Error::internal(e.to_string()))?;
            return respond::json(200, answer).map_err(internal);
        }
        (Method::Post, DEAD_LETTERS) => {
            let letter: DeadLetter = body(&text)?;
            store.keep(&letter, config(env)?.fallback.max_attempts).map_err(stored)?;
        }
        (Method::Post, DEAD_LETTER_NOTES) => {
            let note: ReasonNote = body(&text)?;
            store.note(&note).map_err(stored)?;
        }
        (Method::Get, DEAD_LETTERS) => {
            let url = Url::of(req);
            let query =
                ListQuery::parse(query_param(&url, "limit").as_deref(), query_param(&url, "cursor").as_deref())?;
            let page =
                store.page(query).map_err(|e| Error::internal(format!("could not read the dead letters: {e}")))?;
            return respond::json(200, page).map_err(internal);
        }
        (method, path) => return Err(Error::new(ErrorCode::NotFound, format!("no internal route {method:?} {path}"))),
    }
    respond::json(200, "{}".into()).map_err(internal)
}

fn body<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    serde_json::from_str(text).map_err(|e| Error::internal(format!("internal dead-letter call with a bad body: {e}")))
}
