//! The Grafana dashboard (`assets/grafana-dashboard.json`) and the PromQL it runs: its queries,
//! the metric names each one reads, and the same queries with Grafana's variables filled in so
//! that a real Prometheus can evaluate them.

use std::{collections::BTreeSet, path::PathBuf};

use serde_json::Value;

/// `assets/grafana-dashboard.json`.
pub fn dashboard_path() -> PathBuf {
    crate::workspace_root().join("assets/grafana-dashboard.json")
}

/// Every query of the dashboard: each panel's `targets[].expr` (panels nested in rows included),
/// then the templating variables' queries.
pub fn dashboard_queries() -> Vec<String> {
    let dashboard = dashboard();
    let mut queries = panel_queries(&dashboard);
    queries.extend(variable_queries(&dashboard));
    queries
}

/// The dashboard, parsed.
fn dashboard() -> Value {
    let path = dashboard_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// Every panel, those nested in rows (`panels[].panels[]`) included, in the file's order.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for panel in list.as_array().into_iter().flatten() {
            out.push(panel);
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// The `expr` of every panel's every target.
fn panel_queries(dashboard: &Value) -> Vec<String> {
    panels(dashboard)
        .into_iter()
        .flat_map(|panel| panel["targets"].as_array().into_iter().flatten())
        .filter_map(|target| target["expr"].as_str().map(str::to_owned))
        .collect()
}

/// The query of every `query` variable: a string, or (Grafana 10 and later) an object with one.
fn variable_queries(dashboard: &Value) -> Vec<String> {
    dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|variable| variable["type"] == "query")
        .filter_map(|variable| {
            let query = &variable["query"];
            query
                .as_str()
                .or_else(|| query["query"].as_str())
                .map(str::to_owned)
        })
        .collect()
}

/// The metric names a PromQL expression (or a Grafana `label_values(...)` variable query) reads.
///
/// Not metric names: function names (an identifier followed by `(`), aggregation operators and
/// keywords, label names (inside `{...}`, and the label lists of `by`, `without`, `on`,
/// `ignoring`, `group_left`, `group_right`), strings, numbers and durations, range and subquery
/// brackets, Grafana variables (`$__rate_interval`, `${instance}`) and `#` comments. A selector
/// that names its metric `{__name__="m"}` or `{"m"}` reads `m`; `label_values(selector, label)`
/// reads the selector's metric, not the label.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let tokens = tokens(expr);
    let mut names = BTreeSet::new();
    collect(&tokens, &mut names);
    names
}

/// `expr` with Grafana's variables replaced so that Prometheus can evaluate it: `$__rate_interval`
/// → `1m`, `$__interval` → `15s`, `$__interval_ms` → `15000`, `$__range` → `1h`, and `$instance`
/// and `$job` → `.*` (the dashboard's "All"). `${name}` and `${name:format}` are the same variable.
/// Anything else that starts with `$` (`$1` in a `label_replace`, a regex's `$`) is kept.
pub fn for_prometheus(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let (name, len) = variable_at(rest);
        match substitute(name) {
            Some(value) => out.push_str(value),
            None => out.push_str(&rest[..len]),
        }
        rest = &rest[len..];
    }
    out.push_str(rest);
    out
}

/// The metric names of a Prometheus text exposition's samples (`# HELP`/`# TYPE` and other
/// comment lines skipped): `name` of `name{labels} value` and `name value`, and of
/// `{"name", labels} value` (quoted names).
pub fn exposed_names(metrics_text: &str) -> BTreeSet<String> {
    metrics_text
        .lines()
        .map(str::trim_start)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            if let Some(inside) = line.strip_prefix("{\"") {
                return inside.split('"').next().map(str::to_owned);
            }
            let end = line
                .find(|c: char| c == '{' || c.is_whitespace())
                .unwrap_or(line.len());
            (end > 0).then(|| line[..end].to_owned())
        })
        .collect()
}

/// The value a Grafana variable takes for [`for_prometheus`].
fn substitute(name: &str) -> Option<&'static str> {
    Some(match name {
        "__rate_interval" => "1m",
        "__interval" => "15s",
        "__interval_ms" => "15000",
        "__range" => "1h",
        "instance" | "job" => ".*",
        _ => return None,
    })
}

/// The variable at the start of `s` (which starts with `$`): its name (without `{}` or a
/// `:format`) and how many bytes it spans. A `$` without a name is a one-byte, empty name.
fn variable_at(s: &str) -> (&str, usize) {
    debug_assert!(s.starts_with('$'));
    if let Some(braced) = s.strip_prefix("${") {
        return match braced.find('}') {
            Some(close) => {
                let inner = &braced[..close];
                (inner.split(':').next().unwrap_or(inner), close + 3)
            }
            None => ("", 1),
        };
    }
    let name_len = s[1..]
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    (&s[1..1 + name_len], 1 + name_len)
}

/// A PromQL token, as far as finding metric names needs.
#[derive(Debug, PartialEq)]
enum Token<'a> {
    /// A metric name, label name, function name or keyword.
    Ident(&'a str),
    /// A string's contents, escapes undone.
    Str(String),
    /// A number or a duration (`0.5`, `1e9`, `0x1f`, `5m`, `1h30m`).
    Number,
    /// A Grafana variable (`$instance`, `${__rate_interval}`).
    Variable,
    /// Brackets, commas and operators.
    Punct(&'a str),
}

/// Aggregation operators and keywords: identifiers that are never metric names, even when not
/// followed by `(`. (`inf` and `nan` are compared case-insensitively.)
const KEYWORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "atan2",
    "offset",
    "inf",
    "nan",
];

/// Keywords followed by a parenthesised list of label names.
const LABEL_LIST_KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Operators of two characters; any other punctuation is one character.
const TWO_CHAR_OPERATORS: &[&str] = &["==", "!=", "<=", ">=", "=~", "!~"];

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

fn is_ident_char(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit()
}

fn tokens(expr: &str) -> Vec<Token<'_>> {
    let bytes = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'#' {
            i = expr[i..].find('\n').map_or(bytes.len(), |n| i + n);
        } else if matches!(b, b'"' | b'\'' | b'`') {
            let (contents, end) = string_at(expr, i);
            out.push(Token::Str(contents));
            i = end;
        } else if b == b'$' {
            i += variable_at(&expr[i..]).1;
            out.push(Token::Variable);
        } else if is_ident_start(b) {
            let start = i;
            while i < bytes.len() && is_ident_char(bytes[i]) {
                i += 1;
            }
            out.push(Token::Ident(&expr[start..i]));
        } else if b.is_ascii_digit()
            || (b == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            i = number_end(bytes, i);
            out.push(Token::Number);
        } else {
            let len = TWO_CHAR_OPERATORS
                .iter()
                .find(|op| expr[i..].starts_with(**op))
                .map_or_else(
                    || expr[i..].chars().next().map_or(1, char::len_utf8),
                    |op| op.len(),
                );
            out.push(Token::Punct(&expr[i..i + len]));
            i += len;
        }
    }
    out
}

/// The contents of the string opening at `start` (`"…"` and `'…'` with backslash escapes, `` `…` ``
/// raw), and the index just past its closing quote (or the end, unterminated).
fn string_at(expr: &str, start: usize) -> (String, usize) {
    let quote = expr.as_bytes()[start] as char;
    let mut contents = String::new();
    let mut chars = expr[start + 1..].char_indices();
    while let Some((offset, c)) = chars.next() {
        if c == quote {
            return (contents, start + 1 + offset + 1);
        }
        if c == '\\' && quote != '`' {
            if let Some((_, escaped)) = chars.next() {
                contents.push(escaped);
            }
        } else {
            contents.push(c);
        }
    }
    (contents, expr.len())
}

/// The end of the number or duration starting at `start`: digits, letters (`e`, `x`, units),
/// `.` and `_`, with a sign right after the exponent of a decimal number (`1e-9`).
fn number_end(bytes: &[u8], start: usize) -> usize {
    let hex = bytes[start..].starts_with(b"0x") || bytes[start..].starts_with(b"0X");
    let mut i = start;
    while i < bytes.len() {
        let b = bytes[i];
        let exponent_sign = matches!(b, b'+' | b'-')
            && !hex
            && i > start
            && matches!(bytes[i - 1], b'e' | b'E')
            && bytes[start..i - 1]
                .iter()
                .all(|d| d.is_ascii_digit() || *d == b'.');
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || exponent_sign {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// The index of the bracket closing the one opened at `open`, or `tokens.len()` if none does.
fn closing(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::Punct("(" | "[" | "{") => depth += 1,
            Token::Punct(")" | "]" | "}") => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// Adds the metric names `tokens` read to `names`.
fn collect(tokens: &[Token], names: &mut BTreeSet<String>) {
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Punct("{") => {
                let end = closing(tokens, i);
                selector_names(&tokens[i + 1..end], names);
                i = end + 1;
            }
            // Range and subquery brackets hold durations and variables only.
            Token::Punct("[") => i = closing(tokens, i) + 1,
            Token::Ident(word) => {
                let called = tokens.get(i + 1) == Some(&Token::Punct("("));
                if called && *word == "label_values" {
                    // label_values(label) or label_values(selector, label): the selector only.
                    let end = closing(tokens, i + 1);
                    let args = &tokens[i + 2..end];
                    if let Some(comma) = last_top_level_comma(args) {
                        collect(&args[..comma], names);
                    }
                    i = end + 1;
                } else if called && LABEL_LIST_KEYWORDS.contains(word) {
                    i = closing(tokens, i + 1) + 1;
                } else {
                    if !called && !is_keyword(word) {
                        names.insert((*word).to_owned());
                    }
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
}

/// The metric a selector's matchers name: a lone string (`{"name", ...}`) or `__name__="name"`.
fn selector_names(matchers: &[Token], names: &mut BTreeSet<String>) {
    for matcher in matchers.split(|t| *t == Token::Punct(",")) {
        match matcher {
            [Token::Str(name)]
            | [
                Token::Ident("__name__"),
                Token::Punct("="),
                Token::Str(name),
            ] => {
                names.insert(name.clone());
            }
            _ => {}
        }
    }
}

/// The index of the last comma of `tokens` outside any brackets.
fn last_top_level_comma(tokens: &[Token]) -> Option<usize> {
    let mut depth = 0usize;
    let mut last = None;
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::Punct("(" | "[" | "{") => depth += 1,
            Token::Punct(")" | "]" | "}") => depth = depth.saturating_sub(1),
            Token::Punct(",") if depth == 0 => last = Some(i),
            _ => {}
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        metric_names(expr).into_iter().collect()
    }

    /// What `httptop --prometheus` exposes: one sample per metric name (labels and values made
    /// up), with the comment lines an exposition has.
    const SAMPLE_EXPOSITION: &str = r#"# HELP httptop_build_info httptop's version and attach mode.
# TYPE httptop_build_info gauge
httptop_build_info{version="0.1.0",attach="socket"} 1
# TYPE httptop_exchanges_total counter
httptop_exchanges_total 10
httptop_requests_total 11
httptop_responses_total 10
httptop_unmatched_responses_total 0
httptop_expired_requests_total 1
httptop_events_lost_total 0
httptop_interim_responses_total 0
httptop_duplicate_segments_total 0
httptop_conn_table_full_total 0
httptop_pipeline_overflow_total 0
httptop_scan_incomplete_total 0
httptop_in_flight_requests 0
httptop_events_received_total 10
# TYPE httptop_http_server_request_duration_seconds histogram
httptop_http_server_request_duration_seconds_bucket{server="10.0.0.1:80",method="GET",status_class="2xx",path_template="/users/{id}",le="0.000131072"} 10
httptop_http_server_request_duration_seconds_bucket{server="10.0.0.1:80",method="GET",status_class="2xx",path_template="/users/{id}",le="+Inf"} 10
httptop_http_server_request_duration_seconds_sum{server="10.0.0.1:80",method="GET",status_class="2xx",path_template="/users/{id}"} 0.001
httptop_http_server_request_duration_seconds_count{server="10.0.0.1:80",method="GET",status_class="2xx",path_template="/users/{id}"} 10
httptop_series 1
httptop_series_limit 1000
httptop_series_overflow_total 0
httptop_filter_runs_total 20
httptop_filter_run_seconds_total 0.00001
process_cpu_seconds_total 0.5
process_resident_memory_bytes 4.0e+07
process_start_time_seconds 1.7e+09
httptop_json_lines_written_total 0
httptop_json_lines_dropped_total 0
# EOF
"#;

    #[test]
    fn the_dashboard_parses_and_names_its_datasource_input() {
        let dashboard = dashboard();
        assert_eq!(dashboard["__inputs"][0]["name"], "DS_PROMETHEUS");
        assert_eq!(dashboard["__inputs"][0]["pluginId"], "prometheus");
        assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 36);
        for panel in panels(&dashboard) {
            let title = &panel["title"];
            assert!(title.is_string(), "a panel has no title: {panel}");
            for field in ["h", "w", "x", "y"] {
                assert!(
                    panel["gridPos"][field].is_u64(),
                    "{title}: no gridPos.{field}"
                );
            }
            let width =
                panel["gridPos"]["x"].as_u64().unwrap() + panel["gridPos"]["w"].as_u64().unwrap();
            assert!(width <= 24, "{title}: wider than the dashboard");
            if panel["type"] != "row" {
                assert!(panel["description"].is_string(), "{title}: no description");
                assert_eq!(panel["datasource"]["uid"], "${DS_PROMETHEUS}", "{title}");
                for target in panel["targets"].as_array().expect("targets") {
                    assert_eq!(target["datasource"]["uid"], "${DS_PROMETHEUS}", "{title}");
                    assert!(target["expr"].is_string(), "{title}: a target without expr");
                }
            }
        }
    }

    #[test]
    fn panel_ids_are_unique() {
        let dashboard = dashboard();
        let ids: Vec<u64> = panels(&dashboard)
            .iter()
            .map(|p| p["id"].as_u64().expect("every panel has a numeric id"))
            .collect();
        let unique: BTreeSet<u64> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "duplicate panel ids: {ids:?}");
    }

    #[test]
    fn the_dashboard_has_its_panels() {
        let dashboard = dashboard();
        let panels = panels(&dashboard);
        let unit = |title: &str| {
            let panel = panels
                .iter()
                .find(|p| p["type"] != "row" && p["title"] == title)
                .unwrap_or_else(|| panic!("no panel {title:?}"));
            panel["fieldConfig"]["defaults"]["unit"]
                .as_str()
                .map(str::to_owned)
        };
        for (title, expected) in [
            ("Requests per second by endpoint", "reqps"),
            ("Exchanges per second", "reqps"),
            ("4xx and 5xx ratio", "percentunit"),
            ("TTFB p50, p90, p99", "s"),
            ("TTFB p99 by endpoint", "s"),
            ("Health", "cps"),
            ("CPU", "percentunit"),
            ("Resident memory", "bytes"),
            ("Filter cost per packet", "ns"),
            ("Series and series limit", "short"),
        ] {
            assert_eq!(unit(title).as_deref(), Some(expected), "{title}'s unit");
        }
        // httptop's own cost is a collapsed row, its panels nested in it.
        let row = panels
            .iter()
            .find(|p| p["title"] == "httptop's own cost")
            .expect("the cost row");
        assert_eq!(row["collapsed"], true);
        assert_eq!(row["panels"].as_array().map(Vec::len), Some(4));
    }

    #[test]
    fn the_variables_are_job_and_instance_multi_with_all() {
        let dashboard = dashboard();
        let variables = dashboard["templating"]["list"]
            .as_array()
            .expect("templating");
        let names: Vec<_> = variables
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["job", "instance"]);
        for variable in variables {
            assert_eq!(variable["multi"], true);
            assert_eq!(variable["includeAll"], true);
            assert_eq!(variable["allValue"], ".*");
        }
        assert_eq!(
            variable_queries(&dashboard),
            [
                "label_values(httptop_build_info, job)",
                "label_values(httptop_build_info{job=~\"$job\"}, instance)"
            ]
        );
    }

    #[test]
    fn every_panel_query_is_filtered_by_instance() {
        let dashboard = dashboard();
        let queries = panel_queries(&dashboard);
        assert!(queries.len() >= 20, "{} queries", queries.len());
        for query in &queries {
            assert!(query.contains("instance=~\"$instance\""), "{query}");
            // Every selector carries the filter: as many as there are selectors.
            assert_eq!(
                query.matches("instance=~\"$instance\"").count(),
                query.matches('{').count(),
                "{query}"
            );
        }
    }

    #[test]
    fn every_query_reads_metrics_httptop_exposes() {
        let exposed = exposed_names(SAMPLE_EXPOSITION);
        let queries = dashboard_queries();
        assert!(!queries.is_empty());
        let mut read = BTreeSet::new();
        for query in &queries {
            let names = metric_names(query);
            assert!(!names.is_empty(), "reads no metric: {query}");
            let unknown: Vec<_> = names.difference(&exposed).collect();
            assert!(unknown.is_empty(), "{query} reads {unknown:?}, not exposed");
            read.extend(names);
        }
        // The sample lists each metric once: if a name is misspelt there, it shows here.
        for expected in [
            "httptop_exchanges_total",
            "httptop_http_server_request_duration_seconds_count",
            "httptop_http_server_request_duration_seconds_bucket",
            "process_cpu_seconds_total",
            "httptop_filter_runs_total",
            "httptop_series_limit",
        ] {
            assert!(read.contains(expected), "no query reads {expected}");
        }
    }

    #[test]
    fn every_query_balances_its_brackets_and_substitutes_every_variable() {
        for query in dashboard_queries() {
            let tokens = tokens(&query);
            let mut stack = Vec::new();
            for token in &tokens {
                match token {
                    Token::Punct(open @ ("(" | "[" | "{")) => stack.push(*open),
                    Token::Punct(close @ (")" | "]" | "}")) => {
                        let open = stack
                            .pop()
                            .unwrap_or_else(|| panic!("{query}: stray {close}"));
                        let pair = format!("{open}{close}");
                        assert!(
                            ["()", "[]", "{}"].contains(&pair.as_str()),
                            "{query}: {pair}"
                        );
                    }
                    _ => {}
                }
            }
            assert!(stack.is_empty(), "{query}: unclosed {stack:?}");
            let evaluable = for_prometheus(&query);
            assert!(!evaluable.contains('$'), "{evaluable}");
            assert_eq!(metric_names(&evaluable), metric_names(&query), "{query}");
        }
    }

    #[test]
    fn metric_names_of_the_dashboards_kinds_of_expression() {
        let f = r#"{job=~"$job", instance=~"$instance"}"#;
        let m = "httptop_http_server_request_duration_seconds";
        assert_eq!(
            names(&format!(
                "sum by (server, method, path_template) (rate({m}_count{f}[$__rate_interval]))"
            )),
            [format!("{m}_count")]
        );
        assert_eq!(
            names(&format!(
                "histogram_quantile(0.99, sum by (le, server, method, path_template) \
                 (rate({m}_bucket{f}[$__rate_interval])))"
            )),
            [format!("{m}_bucket")]
        );
        assert_eq!(
            names(&format!(
                r#"sum(rate({m}_count{{status_class="4xx", instance=~"$instance"}}[$__rate_interval])) / sum(rate({m}_count{f}[$__rate_interval]))"#
            )),
            [format!("{m}_count")]
        );
        assert_eq!(
            names(&format!(
                "rate(httptop_filter_run_seconds_total{f}[$__rate_interval]) / \
                 rate(httptop_filter_runs_total{f}[$__rate_interval]) * 1e9"
            )),
            [
                "httptop_filter_run_seconds_total",
                "httptop_filter_runs_total"
            ]
        );
        assert_eq!(
            names(&format!(
                "max by (instance, version, attach) (httptop_build_info{f})"
            )),
            ["httptop_build_info"]
        );
        assert_eq!(
            names("process_resident_memory_bytes"),
            ["process_resident_memory_bytes"]
        );
    }

    #[test]
    fn metric_names_of_grafana_variable_queries() {
        assert_eq!(
            names("label_values(httptop_build_info, instance)"),
            ["httptop_build_info"]
        );
        assert_eq!(
            names(r#"label_values(httptop_build_info{job=~"$job"}, instance)"#),
            ["httptop_build_info"]
        );
        assert!(names("label_values(instance)").is_empty());
        assert_eq!(
            names("query_result(topk(5, sum by (instance) (rate(a_total[1h]))))"),
            ["a_total"]
        );
    }

    #[test]
    fn metric_names_skips_keywords_labels_strings_numbers_and_variables() {
        assert_eq!(names("sum(rate(x_total[5m])) by (le)"), ["x_total"]);
        assert_eq!(names("sum without (le, instance) (x)"), ["x"]);
        assert_eq!(
            names("a * on (instance) group_left (version, attach) b"),
            ["a", "b"]
        );
        assert_eq!(
            names("a and on() b unless ignoring(job) c or d offset 5m"),
            ["a", "b", "c", "d"]
        );
        assert_eq!(
            names("a > bool 0.5e-3 and b < Inf or c != NaN"),
            ["a", "b", "c"]
        );
        assert_eq!(names("a / 0x1f + .5 - 1_000"), ["a"]);
        assert_eq!(
            names(r#"label_replace(up, "dst", "$1 sum by", "src", "(.*)")"#),
            ["up"]
        );
        assert_eq!(
            names(r#"count_values("version", httptop_build_info)"#),
            ["httptop_build_info"]
        );
        assert_eq!(
            names("quantile(0.9, x) + topk(3, y) + bottomk by (a) (2, z)"),
            ["x", "y", "z"]
        );
        assert_eq!(names("max_over_time(x[1h:5m]) @ start()"), ["x"]);
        assert_eq!(names("rate(x[${__rate_interval}]) * $scale"), ["x"]);
        assert_eq!(
            names("job:http_requests:rate5m"),
            ["job:http_requests:rate5m"]
        );
        assert_eq!(names("# a comment naming sum\nx # and another"), ["x"]);
        assert_eq!(
            names(r#"{__name__="named", a="b"} + {"quoted.name"}"#),
            ["named", "quoted.name"]
        );
        assert!(names(r#"{__name__=~"regex.*"}"#).is_empty());
        assert!(names("time() - 1").is_empty());
        assert_eq!(names("x{a=\"}\\\"{\"}"), ["x"]);
        assert_eq!(names("unterminated(x{a=\"b"), ["x"]);
        assert_eq!(names("x{a=\"é\"} / ÿ"), ["x"]);
    }

    #[test]
    fn for_prometheus_fills_in_grafanas_variables() {
        assert_eq!(
            for_prometheus(r#"rate(x{job=~"$job", instance=~"$instance"}[$__rate_interval])"#),
            r#"rate(x{job=~".*", instance=~".*"}[1m])"#
        );
        assert_eq!(
            for_prometheus("avg_over_time(x[$__interval]) + y[${__range}] / ${__interval_ms}"),
            "avg_over_time(x[15s]) + y[1h] / 15000"
        );
        assert_eq!(
            for_prometheus(r#"x{instance=~"${instance:regex}"}"#),
            r#"x{instance=~".*"}"#
        );
        // Not Grafana's: kept as they are.
        assert_eq!(
            for_prometheus(r#"label_replace(x, "a", "$1", "b", "^(.*)$") * $other + $"#),
            r#"label_replace(x, "a", "$1", "b", "^(.*)$") * $other + $"#
        );
        assert_eq!(for_prometheus("${unclosed"), "${unclosed");
    }

    #[test]
    fn exposed_names_reads_sample_lines_only() {
        let text = "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n\
                    b{x=\"1\"} 2 1700000000\n  c 3\n{\"d.e\", x=\"1\"} 4\n# EOF\n";
        assert_eq!(
            exposed_names(text).into_iter().collect::<Vec<_>>(),
            ["a_total", "b", "c", "d.e"]
        );
        let sample = exposed_names(SAMPLE_EXPOSITION);
        assert_eq!(sample.len(), 27, "{sample:?}");
        assert!(!sample.iter().any(|n| n.starts_with('#')));
    }
}
