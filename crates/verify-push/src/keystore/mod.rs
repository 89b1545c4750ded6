//! Where private keys live: the OS keychain in production, memory in unit tests.

mod bounded;
mod memory;
mod os;

pub use bounded::DEFAULT_TIMEOUT as KEYCHAIN_TIMEOUT;

pub use memory::MemoryKeyStore;
pub use os::{OsKeyStore, INDEX_USER};

use crate::error::Error;
use crate::secret::SecretKeyBytes;

/// A place to keep private keys by alias. Implementations may block (D-Bus); the async client
/// calls them inside `spawn_blocking`.
pub trait KeyStore: Send + Sync + std::fmt::Debug {
    /// Stores (or replaces) the key under `alias`.
    fn put(&self, alias: &str, key: &SecretKeyBytes) -> Result<(), Error>;
    /// The key under `alias`, or `None` when there is none.
    fn get(&self, alias: &str) -> Result<Option<SecretKeyBytes>, Error>;
    /// Deletes the key; returns whether it existed.
    fn delete(&self, alias: &str) -> Result<bool, Error>;
    /// Aliases of all keys this store holds for us.
    fn aliases(&self) -> Result<Vec<String>, Error>;
    /// Drops bookkeeping left for keys that no longer exist (an interrupted write leaves
    /// some); returns how many entries went. Stores without such bookkeeping have none.
    fn prune(&self) -> Result<usize, Error> {
        Ok(0)
    }
}

/// A new random key alias (`key-` + 32 hex digits).
pub fn new_alias() -> String {
    format!("key-{:032x}", rand::random::<u128>())
}
