//! Telling whether anything committed on the database between two moments:
//! the bookmark a transaction's commit returns names the last transaction
//! committed on the database by then, and read-only transactions do not
//! move it. Neo4j Community reports no transaction id otherwise
//! (`SHOW DATABASES` leaves `lastCommittedTxn` empty there, and JMX is not
//! exposed), so equal bookmarks before and after a read are the proof that
//! nothing was written in between. Bookmarks are compared, never decoded.

use neo4rs::query;

use super::{Db, GraphError};

impl Db {
    /// The bookmark of the last transaction committed on the database, as a
    /// read-only transaction's commit reports it (`None` from a server that
    /// sends none).
    pub async fn last_bookmark(&self) -> Result<Option<String>, GraphError> {
        let mut txn = self.start_txn().await?;
        if let Err(e) = txn.run(self.logged(query("RETURN 1 AS one"))).await {
            let _ = txn.rollback().await;
            return Err(self.classify(e));
        }
        txn.commit().await.map_err(|e| self.classify(e))
    }
}
