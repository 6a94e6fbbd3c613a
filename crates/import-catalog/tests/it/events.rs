//! The S3 event the importer reads, in the shape AWS documents ("Event message structure" of
//! S3's event notifications), and the one `delivery-local`'s bucket sends compared with it: a
//! field the local bucket invented, or one it left out that the importer reads, shows here.

use chrono::Utc;
use domain::CompanyId;
use domain::import::{FileVersion, ImportFormat, ImportId, ObjectKey};
use files_embedded::{Stored, object_created};
use import_catalog::uploaded_files;
use serde_json::Value;

const DOCUMENTED: &str = include_str!("../../../../fixtures/events/s3-object-created.json");

#[test]
fn the_documented_event_names_its_upload() {
    let uploads = uploaded_files(DOCUMENTED).unwrap();
    assert_eq!(uploads.len(), 1);
    let upload = &uploads[0];
    assert_eq!(
        upload.key.to_string(),
        "imports/acme/3f2b7c1e-8d4a-4c57-9a3c-6f0e8d21b7c4.csv"
    );
    assert_eq!(upload.size, 1024);
    assert_eq!(
        upload.version,
        FileVersion {
            e_tag: "d41d8cd98f00b204e9800998ecf8427e".into(),
            version_id: Some("096fKKXTRTtl3on89fVO.nfljtsv6qko".into()),
        }
    );
}

/// Every field path of a JSON value, as `a.b.c` (arrays by their first element).
fn paths(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = format!("{prefix}.{k}");
                out.push(path.clone());
                paths(v, &path, out);
            }
        }
        Value::Array(items) => {
            if let Some(first) = items.first() {
                paths(first, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_local_bucket_sends_the_documented_shape() {
    let key = ObjectKey {
        company: CompanyId::parse("acme").unwrap(),
        import: ImportId::random(),
        format: ImportFormat::Jsonl,
    };
    let stored = Stored {
        key: key.clone(),
        size: 77,
        version: "v-1".into(),
    };
    let local: Value = serde_json::from_str(&object_created(&stored, Utc::now())).unwrap();
    let documented: Value = serde_json::from_str(DOCUMENTED).unwrap();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    paths(&local, "", &mut ours);
    paths(&documented, "", &mut theirs);
    let invented: Vec<&String> = ours.iter().filter(|p| !theirs.contains(p)).collect();
    assert!(invented.is_empty(), "fields S3 never sends: {invented:?}");
    let missing: Vec<&String> = theirs
        .iter()
        .filter(|p| !ours.contains(p) && !p.starts_with(".Records[].responseElements."))
        .collect();
    assert!(
        missing.is_empty(),
        "fields S3 sends that the local bucket leaves out: {missing:?}"
    );
    // And the importer reads the same upload from it.
    let uploads = uploaded_files(&local.to_string()).unwrap();
    assert_eq!(uploads[0].key, key);
    assert_eq!(uploads[0].size, 77);
}

/// S3 sends other events to a queue configured for more than `ObjectCreated:*` (a deletion, a
/// restore): the same record shape, a key under `imports/`, and no upload to read.
#[test]
fn an_event_other_than_a_creation_names_no_upload() {
    for name in ["ObjectRemoved:Delete", "ObjectRestore:Completed"] {
        let other = DOCUMENTED.replace("ObjectCreated:Put", name);
        assert_ne!(other, DOCUMENTED, "the fixture names ObjectCreated:Put");
        assert_eq!(uploaded_files(&other).unwrap(), vec![], "{name}");
    }
}
