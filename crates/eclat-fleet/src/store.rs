//! JSON records in etcd: typed reads and writes of one key or of every key under a prefix,
//! with the revisions the transactions compare.

use etcd_client::{Client, GetOptions, KeyValue, PutOptions};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{request, FleetError, Result};

/// A record and its key's revisions.
#[derive(Clone, Debug)]
pub struct Record<T> {
    /// The key.
    pub key: String,
    /// The value.
    pub value: T,
    /// The revision of its last write.
    pub mod_revision: i64,
}

pub fn decode<T: DeserializeOwned>(kv: &KeyValue) -> Result<Record<T>> {
    let key = String::from_utf8_lossy(kv.key()).into_owned();
    let value = serde_json::from_slice(kv.value()).map_err(|source| FleetError::Corrupt {
        key: key.clone(),
        source,
    })?;
    Ok(Record {
        key,
        value,
        mod_revision: kv.mod_revision(),
    })
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("fleet records always serialise")
}

/// The record at `key`, if any, and the store's revision of the read.
pub async fn get<T: DeserializeOwned>(
    client: &mut Client,
    key: &str,
) -> Result<(Option<Record<T>>, i64)> {
    let resp = client
        .get(key, None)
        .await
        .map_err(request(format!("get {key}")))?;
    let rev = resp.header().map_or(0, |h| h.revision());
    let rec = resp.kvs().first().map(decode).transpose()?;
    Ok((rec, rev))
}

/// Every record under `prefix`, and the store's revision of the read.
pub async fn list<T: DeserializeOwned>(
    client: &mut Client,
    prefix: &str,
) -> Result<(Vec<Record<T>>, i64)> {
    let resp = client
        .get(prefix, Some(GetOptions::new().with_prefix()))
        .await
        .map_err(request(format!("get {prefix}*")))?;
    let rev = resp.header().map_or(0, |h| h.revision());
    let recs = resp.kvs().iter().map(decode).collect::<Result<_>>()?;
    Ok((recs, rev))
}

/// The keys under `prefix` (values not read).
pub async fn keys(client: &mut Client, prefix: &str) -> Result<Vec<String>> {
    let resp = client
        .get(
            prefix,
            Some(GetOptions::new().with_prefix().with_keys_only()),
        )
        .await
        .map_err(request(format!("get {prefix}* (keys)")))?;
    Ok(resp
        .kvs()
        .iter()
        .map(|kv| String::from_utf8_lossy(kv.key()).into_owned())
        .collect())
}

/// Writes `value` at `key`, under `lease` if given.
pub async fn put<T: Serialize>(
    client: &mut Client,
    key: &str,
    value: &T,
    lease: Option<i64>,
) -> Result<()> {
    let opts = lease.map(|l| PutOptions::new().with_lease(l));
    client
        .put(key, encode(value), opts)
        .await
        .map_err(request(format!("put {key}")))?;
    Ok(())
}
