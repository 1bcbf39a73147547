//! The blob store seam (R2 in the Worker). Keys are `<partition>/<plugin>/<kind>/<sha256>`
//! (executor-behaviour.md §4.5); values are bytes.

use std::cell::RefCell;
use std::collections::BTreeMap;

use async_trait::async_trait;

use super::StoreError;

#[async_trait(?Send)]
pub trait Blobs {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// In-memory [`Blobs`] for host tests.
#[derive(Debug, Default)]
pub struct MemoryBlobs {
    objects: RefCell<BTreeMap<String, Vec<u8>>>,
}

#[async_trait(?Send)]
impl Blobs for MemoryBlobs {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.objects.borrow().get(key).cloned())
    }
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.objects.borrow_mut().insert(key.to_string(), value);
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.objects.borrow_mut().remove(key);
        Ok(())
    }
}

/// Content address of a blob: lowercase hex SHA-256.
pub fn content_key(partition: &str, plugin: &str, kind: &str, bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    format!("{partition}/{plugin}/{kind}/{}", crate::ids::hex(&digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_blobs_round_trip() -> Result<(), StoreError> {
        let blobs = MemoryBlobs::default();
        let key = content_key("o:default", "openapi", "spec", b"{}");
        assert!(key.starts_with("o:default/openapi/spec/44136fa355b3678a"));
        assert_eq!(blobs.get(&key).await?, None);
        blobs.put(&key, b"{}".to_vec()).await?;
        assert_eq!(blobs.get(&key).await?, Some(b"{}".to_vec()));
        blobs.delete(&key).await?;
        assert_eq!(blobs.get(&key).await?, None);
        Ok(())
    }
}
