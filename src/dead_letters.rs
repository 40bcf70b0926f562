//! `GET /api/v1/admin/dead-letters?limit=&cursor=`, by an admin: the fallback jobs that will
//! not be sent, newest first, `{"jobs": [{job, attempts, reason?, at}], "next"}`; `next` is the
//! `cursor` of the following page (`null` on the last). Read from the dead-letter store
//! (`deadletters:main`).

use crate::auth::Caller;
use herald_core::error::Error;
use herald_core::exchange::dead_letters::ListQuery;
use herald_core::internal::{DEAD_LETTERS, DEAD_LETTERS_OBJECT};
use herald_platform::Url;
use herald_platform::{call_object, query_param};
use worker::{Env, Headers, Method, Response};

pub async fn list(env: &Env, url: &Url, caller: &Caller) -> Result<Response, Error> {
    caller.identity.require_admin()?;
    let query = ListQuery::parse(query_param(url, "limit").as_deref(), query_param(url, "cursor").as_deref())?;
    let path = format!("{DEAD_LETTERS}?{}", query.to_query());
    // The store's own answer: the page, or its coded error.
    call_object(env, DEAD_LETTERS_OBJECT, Method::Get, &path, Headers::new(), None).await
}
