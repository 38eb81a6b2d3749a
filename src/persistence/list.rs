//! `list`: a page of an entity type, filtered, searched and sorted from the query string.

use super::{ActionError, ActionInput, Outcome};
use crate::config::{CompileCx, PersistenceDef};
use crate::store::{ListQuery, Sort, Store};
use serde_json::{Map, Value, json};

/// Page settings; `None` on the action means "no pagination unless asked for".
#[derive(Debug, Clone, Copy)]
pub struct Pagination {
    pub default_limit: usize,
    pub max_limit: usize,
}

/// The query parameters that page: `limit` and `offset` unless the profile names
/// others (`per_page`, `skip`), or a 1-based page number (`page`).
#[derive(Debug, Clone)]
pub struct PageParams {
    pub limit: String,
    pub offset: String,
    pub page: Option<String>,
}

impl Default for PageParams {
    fn default() -> Self {
        PageParams { limit: "limit".into(), offset: "offset".into(), page: None }
    }
}

impl PageParams {
    fn names(&self, k: &str) -> bool {
        k == self.limit || k == self.offset || self.page.as_deref() == Some(k)
    }
}

/// Query parameters with a meaning of their own; every other one filters by equality.
const RESERVED: [&str; 6] = ["limit", "offset", "search", "q", "sort", "order"];

/// Lists an entity type, a page at a time: `limit`, `offset`, field equality
/// (`?role=admin`, dotted names for nested fields), `search` (or `q`: substring over
/// string fields, any case), `sort=field` / `sort=-field`.
#[derive(Debug)]
pub struct List {
    pub entity: String,
    pub pagination: Option<Pagination>,
    pub params: PageParams,
    /// Query parameters that carry credentials, never filters.
    pub ignored: Vec<String>,
    /// Mock-and-Roll's `filter_by_query_params`: only these parameters filter.
    pub filter_only: Option<Vec<String>>,
    /// Mock-and-Roll's `response_list_key` / `response_count_key`: the response
    /// body's keys that receive the entities and their count.
    pub list_key: Option<String>,
    pub count_key: Option<String>,
}

impl List {
    pub fn parse(def: &PersistenceDef, entity: String, at: &str, cx: &mut CompileCx<'_>) -> Option<List> {
        let pagination = match &def.pagination {
            Some(p) if p.enabled != Some(false) => {
                let default_limit = p.default_limit.unwrap_or(10);
                let max_limit = p.max_limit.unwrap_or(100.max(default_limit));
                if default_limit == 0 || default_limit > max_limit {
                    cx.problem(
                        format!("{at}.pagination"),
                        format!("default_limit {default_limit} with max_limit {max_limit}"),
                        "1 <= default_limit <= max_limit",
                    );
                    return None;
                }
                Some(Pagination { default_limit, max_limit })
            }
            _ => None,
        };
        let p = def.pagination.as_ref();
        let params = PageParams {
            limit: p.and_then(|p| p.limit_param.clone()).unwrap_or_else(|| "limit".into()),
            offset: p.and_then(|p| p.offset_param.clone()).unwrap_or_else(|| "offset".into()),
            page: p.and_then(|p| p.page_param.clone()),
        };
        Some(List {
            entity,
            pagination,
            params,
            ignored: cx.credential_params.clone(),
            filter_only: def.filter_by_query_params.clone(),
            list_key: def.response_list_key.clone(),
            count_key: def.response_count_key.clone(),
        })
    }

    fn query(&self, input: &ActionInput<'_>) -> Result<ListQuery, ActionError> {
        let q = &input.request.query;
        let limit = match (number(q, &self.params.limit)?, self.pagination) {
            (Some(n), Some(p)) => Some(n.min(p.max_limit)),
            (Some(n), None) => Some(n),
            (None, Some(p)) => Some(p.default_limit),
            (None, None) => None,
        };
        let text = |k: &str| q.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let sort = text("sort").map(|s| {
            let (field, minus) = match s.strip_prefix('-') {
                Some(f) => (f, true),
                None => (s, false),
            };
            let desc = minus || text("order").is_some_and(|o| o.eq_ignore_ascii_case("desc"));
            Sort { field: field.to_owned(), descending: desc }
        });
        // Path parameters (`/users/{user_id}/posts`) filter too, then query parameters.
        let params = input.request.params.as_object().into_iter().flatten();
        let query = q
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| !RESERVED.contains(&k.as_str()) && !self.params.names(k) && !self.ignored.contains(k))
            .filter(|(k, _)| self.filter_only.as_ref().is_none_or(|only| only.contains(k)));
        let filters = params.chain(query).filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect();
        Ok(ListQuery {
            offset: match self.params.page.as_deref().map(|p| number(q, p)).transpose()?.flatten() {
                // Page 1 is the first; a page needs a size.
                Some(page) => page.saturating_sub(1).saturating_mul(limit.unwrap_or(usize::MAX)),
                None => number(q, &self.params.offset)?.unwrap_or(0),
            },
            limit,
            filters,
            search: text("search").or_else(|| text("q")).map(str::to_owned),
            sort,
        })
    }

    pub async fn apply(&self, store: &dyn Store, input: &ActionInput<'_>) -> Result<Outcome, ActionError> {
        let query = self.query(input)?;
        let page = store.list(&self.entity, &query).await?;
        let has_more = query.offset + page.items.len() < page.total;
        let items = Value::Array(page.items);
        let mut vars = Map::new();
        vars.insert("entity_count".into(), Value::from(page.total));
        vars.insert("has_more_entities".into(), Value::Bool(has_more));
        vars.insert("limit".into(), query.limit.map_or(Value::Null, Value::from));
        vars.insert("offset".into(), Value::from(query.offset));
        let body = json!({
            "entities": items,
            "count": items.as_array().map_or(0, Vec::len),
            "total": page.total,
            "limit": vars["limit"],
            "offset": query.offset,
            "has_more": has_more,
        });
        let mut inject = Vec::new();
        if let Some(k) = &self.list_key {
            inject.push((k.clone(), items.clone()));
        }
        if let Some(k) = &self.count_key {
            inject.push((k.clone(), Value::from(page.total)));
        }
        vars.insert("entity_list".into(), items);
        Ok(Outcome { vars, status: 200, body: Some(body), inject, ..Outcome::default() })
    }
}

fn number(query: &Value, param: &str) -> Result<Option<usize>, ActionError> {
    match query.get(param).and_then(Value::as_str) {
        None | Some("") => Ok(None),
        Some(s) => s.trim().parse::<usize>().map(Some).map_err(|_| ActionError::BadQuery {
            param: param.to_owned(),
            message: format!("expected a whole number >= 0, found {s:?}"),
        }),
    }
}
