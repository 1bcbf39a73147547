#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::query::parse_time;
use super::*;
use crate::config::Config;
use crate::store::sqlite::SqliteStore;
use crate::store::Sql;

#[test]
fn outcomes_are_codes_and_statuses_only() {
    let ok = json!({"ok": true, "data": {"secret": "x"}, "http": {"status": 201, "headers": {}}});
    assert_eq!(outcome_of_value(&ok), ("ok".into(), Some(201)));
    let upstream = json!({"ok": false, "error": {"code": "upstream_http_error", "status": 404,
        "message": "no such pet", "details": {"a": 1}}});
    assert_eq!(
        outcome_of_value(&upstream),
        ("upstream_http_error".into(), Some(404))
    );
    let odd = json!({"ok": false, "error": {"code": "Not A Code: sk-123", "message": "m"}});
    assert_eq!(outcome_of_value(&odd), ("error".into(), None));
    assert_eq!(
        outcome_of_value(&json!({"ok": false})),
        ("error".into(), None)
    );
    assert_eq!(outcome_of_value(&json!([1, 2])), ("ok".into(), None));
    assert_eq!(outcome_of_value(&json!("text")), ("ok".into(), None));

    for value in [
        ok,
        upstream,
        odd,
        json!([1]),
        json!({"data": 1}),
        json!(null),
    ] {
        assert_eq!(
            outcome_of_text(&value.to_string()),
            outcome_of_value(&value),
            "{value}"
        );
    }
    assert_eq!(
        outcome_of_text(r#"{"ok":false,"error":{"code":"tool_blocked","details":{"_tag":"x"}}}"#),
        ("tool_blocked".into(), None)
    );
    assert_eq!(outcome_code(&"a".repeat(65)), "error");
    assert_eq!(outcome_code(""), "error");
    assert_eq!(
        outcome_code("invalid_tool_arguments"),
        "invalid_tool_arguments"
    );
}

#[test]
fn entries_cut_long_addresses_and_round_durations() {
    let entry = Entry::new(&"é".repeat(400), Decision::Allowed, 10.0, 12.6);
    assert_eq!(entry.address.chars().count(), MAX_ADDRESS_CHARS);
    assert_eq!((entry.time, entry.duration_ms), (10, 3));
    // A clock that went backwards never gives a negative duration.
    assert_eq!(Entry::new("a", Decision::Allowed, 10.0, 5.0).duration_ms, 0);
}

#[test]
fn the_recorder_is_bounded() {
    let recorder = Recorder::default();
    for _ in 0..MAX_ENTRIES_PER_RUN + 5 {
        recorder.record(Entry::new("a", Decision::Allowed, 0.0, 0.0));
    }
    assert_eq!(recorder.take().len(), MAX_ENTRIES_PER_RUN);
    assert!(recorder.take().is_empty());
}

#[test]
fn decisions_round_trip() {
    for decision in Decision::ALL {
        assert_eq!(Decision::parse(decision.as_str()), Some(decision));
    }
    assert_eq!(Decision::parse("Allowed"), None);
}

#[test]
fn times_parse() {
    assert_eq!(parse_time("0"), Some(0));
    assert_eq!(parse_time("1795000000000"), Some(1_795_000_000_000));
    assert_eq!(parse_time("9007199254740992"), None);
    assert_eq!(parse_time("2026-11-18"), Some(1_794_960_000_000));
    assert_eq!(parse_time("2026-11-18T11:06:40Z"), Some(1_795_000_000_000));
    assert_eq!(
        parse_time("2026-11-18T11:06:40.5Z"),
        Some(1_795_000_000_500)
    );
    assert_eq!(
        parse_time("2026-11-18T11:06:40.123456Z"),
        Some(1_795_000_000_123)
    );
    assert_eq!(
        parse_time("2026-11-18T12:06:40+01:00"),
        Some(1_795_000_000_000)
    );
    assert_eq!(
        parse_time("2026-11-18T10:36:40-00:30"),
        Some(1_795_000_000_000)
    );
    assert_eq!(parse_time("2026-11-18T11:06Z"), Some(1_794_999_960_000));
    assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_time("2024-02-29"), Some(1_709_164_800_000));
    for bad in [
        "",
        "-5",
        "yesterday",
        "2026-11-18T11:06:40",
        "2023-02-29",
        "2026-00-10",
        "2026-1-1",
        "1969-12-31",
        "2026-11-18T24:00:00Z",
        "2026-11-18T11:06:40+1:00",
        "2026-11-18T11:06:40.Z",
        "2026-11-18T11:06:40+01:00:00",
    ] {
        assert_eq!(parse_time(bad), None, "{bad}");
    }
}

fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
    query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn filters_parse_and_refuse_typed() {
    let filter = parse_filter(pairs(&[
        ("principal", "bob@example.com"),
        ("address", "tools.petstore."),
        ("decision", "blocked"),
        ("outcome", "tool_blocked"),
        ("from", "10"),
        ("to", "20"),
        ("limit", "500"),
        ("cursor", "15.3"),
        ("integration", ""),
    ]))
    .unwrap();
    assert_eq!(filter.limit, MAX_LIMIT);
    assert_eq!(filter.decision, Some(Decision::Blocked));
    assert_eq!((filter.from, filter.to), (10, 20));
    assert_eq!(filter.integration, None);
    assert_eq!(filter.cursor.map(|c| (c.time, c.id)), Some((15, 3)));
    for (query, field) in [
        (vec![("cursor", "1.-2")], "cursor"),
        (vec![("cursor", "1")], "cursor"),
        (vec![("cursor", "+1.2")], "cursor"),
        (vec![("outcome", "a-b")], "outcome"),
        (vec![("principal", &*"x".repeat(400))], "principal"),
        (vec![("from", "20"), ("to", "10")], "from"),
    ] {
        match parse_filter(pairs(&query)) {
            Err(AuditError::InvalidFilter { field: f, .. }) => assert_eq!(f, field, "{query:?}"),
            other => panic!("{query:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn large_runs_are_split_into_bounded_inserts() {
    let sql = SqliteStore::migrated().unwrap();
    let config = Config::for_tests();
    let principal = crate::auth::dev_principal(&config);
    let entries: Vec<Entry> = (0..3000)
        .map(|i| {
            let mut e = Entry::new(
                &format!("tools.big.org.main.{}", "x".repeat(200)),
                Decision::Allowed,
                f64::from(i),
                f64::from(i),
            );
            e.http_status = Some(200);
            e
        })
        .collect();
    let statements = store::write_statements(&principal, &entries, 0, 1_000_000);
    // Inserts of at most ~256 KB each, then the two retention deletes.
    assert!(statements.len() >= 5, "{}", statements.len());
    for statement in &statements[..statements.len() - 2] {
        match &statement.params[3] {
            crate::store::SqlValue::Text(payload) => assert!(payload.len() <= 256 * 1024),
            other => panic!("{other:?}"),
        }
    }
    sql.batch(statements).await.unwrap();
    let filter = Filter {
        limit: 2,
        ..Filter::default()
    };
    let page = list(&sql, &principal, &filter).await.unwrap();
    assert_eq!(
        page.items.iter().map(|i| i.time).collect::<Vec<_>>(),
        vec![2999, 2998]
    );
    assert_eq!(
        page.next_cursor.as_deref(),
        Some(&*format!("2998.{}", page.items[1].id))
    );
    let rows = sql
        .query(crate::store::Statement::new(
            "SELECT COUNT(*) AS n, MIN(id) AS lo, MAX(id) AS hi FROM audit",
            vec![],
        ))
        .await
        .unwrap();
    assert_eq!(rows[0]["n"], 3000);
    // Ids follow the calls.
    assert_eq!(
        rows[0]["hi"].as_i64().unwrap() - rows[0]["lo"].as_i64().unwrap(),
        2999
    );
}
