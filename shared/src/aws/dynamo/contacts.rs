use super::keys;
use super::tables::{REQUESTS_BY_RECEIVER, REQUESTS_BY_SENDER};
use super::{Item, from_item, s, to_item, transaction_error};
use crate::StoreError;
use crate::domain::{Contact, ContactRequest, RequestId, RequestStatus, UserId};
use crate::ports::{ContactRequestStore, ContactStore, Page, PageRequest, decode_cursor};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const NOT_EXISTS: &str = "attribute_not_exists(pk)";

/// `contact_requests` table: `REQ#<id>`. The `pending*` attributes exist only while the
/// request is pending, which makes the two GSIs list pending requests only.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RequestItem {
    pk: String,
    #[serde(flatten)]
    request: ContactRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending_receiver: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending_sender: Option<UserId>,
}

impl RequestItem {
    fn new(r: &ContactRequest) -> Self {
        let pending = r.status == RequestStatus::Pending;
        Self {
            pk: keys::request_pk(&r.id),
            request: r.clone(),
            pending_receiver: pending.then_some(r.receiver_id),
            pending_sender: pending.then_some(r.sender_id),
        }
    }
}

/// `contact_requests` table: `PAIR#<lo>#<hi>`, present while a request between the two is
/// pending.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PairGuardItem {
    pk: String,
    request_id: RequestId,
    sender_id: UserId,
}

/// `contacts` table: `USER#<owner>` / `CONTACT#<other>`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContactItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    contact: Contact,
}

impl ContactItem {
    fn new(c: &Contact) -> Self {
        Self {
            pk: keys::contacts_pk(&c.owner_id),
            sk: keys::contact_sk(&c.contact_id),
            contact: c.clone(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct RequestCursor {
    id: RequestId,
}

#[derive(Serialize, Deserialize)]
struct ContactCursor {
    c: UserId,
}

fn build<T, E: std::error::Error + Send + Sync + 'static>(
    r: Result<T, E>,
) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Unavailable(Box::new(e)))
}

/// [`ContactRequestStore`] and [`ContactStore`] on the `contact_requests` and `contacts`
/// tables (one struct: accepting writes both tables in one transaction).
#[derive(Clone)]
pub struct DynamoContacts {
    client: Client,
    requests: String,
    contacts: String,
}

impl DynamoContacts {
    pub fn new(
        client: Client,
        requests_table: impl Into<String>,
        contacts_table: impl Into<String>,
    ) -> Self {
        Self {
            client,
            requests: requests_table.into(),
            contacts: contacts_table.into(),
        }
    }

    async fn get_item(&self, table: &str, key: Item) -> Result<Option<Item>, StoreError> {
        super::get_item(&self.client, table, key).await
    }

    fn put(
        &self,
        table: &str,
        item: Item,
        condition: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = build(
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression(condition)
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The transaction items that move a pending request to `status` and drop its pair guard.
    fn settle_items(
        &self,
        r: &ContactRequest,
        status: RequestStatus,
        now: DateTime<Utc>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let value =
            |v| super::codec::to_attribute_value(v).map_err(|e| StoreError::Corrupt(Box::new(e)));
        let update = build(
            Update::builder()
                .table_name(&self.requests)
                .key("pk", s(keys::request_pk(&r.id)))
                .update_expression(
                    "SET #st = :new, updatedAt = :now REMOVE pendingReceiver, pendingSender",
                )
                .condition_expression("#st = :pending")
                .expression_attribute_names("#st", "status")
                .expression_attribute_values(":new", value(status)?)
                .expression_attribute_values(":pending", value(RequestStatus::Pending)?)
                .expression_attribute_values(
                    ":now",
                    super::codec::to_attribute_value(now)
                        .map_err(|e| StoreError::Corrupt(Box::new(e)))?,
                )
                .build(),
        )?;
        let guard = build(
            Delete::builder()
                .table_name(&self.requests)
                .key("pk", s(keys::pair_guard_pk(&r.sender_id, &r.receiver_id)))
                .condition_expression("requestId = :id")
                .expression_attribute_values(":id", s(r.id.to_string()))
                .build(),
        )?;
        Ok(vec![
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder().delete(guard).build(),
        ])
    }

    async fn pending_by(
        &self,
        index: super::tables::IndexDef,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<ContactRequest>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.requests)
            .index_name(index.name)
            .key_condition_expression("#u = :u")
            .expression_attribute_names("#u", index.partition_key)
            .expression_attribute_values(":u", s(user.to_string()));
        if let Some(c) = &page.cursor {
            let c: RequestCursor = decode_cursor(c)?;
            query = query
                .exclusive_start_key("pk", s(keys::request_pk(&c.id)))
                .exclusive_start_key(index.partition_key, s(user.to_string()))
                .exclusive_start_key("id", s(c.id.to_string()));
        }
        super::query_page(
            query,
            page.limit,
            |r: RequestItem| (r.request.id, r.request),
            |id| RequestCursor { id: *id },
        )
        .await
    }
}

fn contact_key(owner: &UserId, other: &UserId) -> Item {
    super::pk_sk_key(keys::contacts_pk(owner), keys::contact_sk(other))
}

#[async_trait]
impl ContactRequestStore for DynamoContacts {
    async fn create(&self, r: &ContactRequest) -> Result<(), StoreError> {
        let guard = PairGuardItem {
            pk: keys::pair_guard_pk(&r.sender_id, &r.receiver_id),
            request_id: r.id,
            sender_id: r.sender_id,
        };
        let not_contacts = build(
            ConditionCheck::builder()
                .table_name(&self.contacts)
                .set_key(Some(contact_key(&r.sender_id, &r.receiver_id)))
                .condition_expression(NOT_EXISTS)
                .build(),
        )?;
        let items = vec![
            self.put(&self.requests, to_item(&RequestItem::new(r))?, NOT_EXISTS)?,
            self.put(&self.requests, to_item(&guard)?, NOT_EXISTS)?,
            TransactWriteItem::builder()
                .condition_check(not_contacts)
                .build(),
        ];
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| transaction_error(e, &["exists", "pending", "contacts"]))?;
        Ok(())
    }

    async fn get(&self, id: &RequestId) -> Result<Option<ContactRequest>, StoreError> {
        let key = Item::from([("pk".to_owned(), s(keys::request_pk(id)))]);
        let Some(item) = self.get_item(&self.requests, key).await? else {
            return Ok(None);
        };
        Ok(Some(from_item::<RequestItem>(item)?.request))
    }

    async fn pending_between(
        &self,
        a: &UserId,
        b: &UserId,
    ) -> Result<Option<ContactRequest>, StoreError> {
        let key = Item::from([("pk".to_owned(), s(keys::pair_guard_pk(a, b)))]);
        let Some(item) = self.get_item(&self.requests, key).await? else {
            return Ok(None);
        };
        let guard: PairGuardItem = from_item(item)?;
        Ok(ContactRequestStore::get(self, &guard.request_id)
            .await?
            .filter(|r| r.status == RequestStatus::Pending))
    }

    async fn accept(&self, r: &ContactRequest, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut items = self.settle_items(r, RequestStatus::Accepted, now)?;
        for (owner, other) in [(r.sender_id, r.receiver_id), (r.receiver_id, r.sender_id)] {
            let row = Contact {
                owner_id: owner,
                contact_id: other,
                request_id: r.id,
                created_at: now,
            };
            items.push(self.put(
                &self.contacts,
                to_item(&ContactItem::new(&row))?,
                NOT_EXISTS,
            )?);
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| transaction_error(e, &["state", "state", "contacts", "contacts"]))?;
        Ok(())
    }

    async fn reject(&self, r: &ContactRequest, now: DateTime<Utc>) -> Result<(), StoreError> {
        let items = self.settle_items(r, RequestStatus::Rejected, now)?;
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| transaction_error(e, &["state", "state"]))?;
        Ok(())
    }

    async fn pending_received(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<ContactRequest>, StoreError> {
        self.pending_by(REQUESTS_BY_RECEIVER, user, page).await
    }

    async fn pending_sent(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<ContactRequest>, StoreError> {
        self.pending_by(REQUESTS_BY_SENDER, user, page).await
    }
}

#[async_trait]
impl ContactStore for DynamoContacts {
    async fn list(&self, owner: &UserId, page: &PageRequest) -> Result<Page<Contact>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.contacts)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::contacts_pk(owner)))
            .consistent_read(true);
        if let Some(c) = &page.cursor {
            let c: ContactCursor = decode_cursor(c)?;
            query = query.set_exclusive_start_key(Some(contact_key(owner, &c.c)));
        }
        super::query_page(
            query,
            page.limit,
            |c: ContactItem| (c.contact.contact_id, c.contact),
            |c| ContactCursor { c: *c },
        )
        .await
    }

    async fn get(&self, owner: &UserId, other: &UserId) -> Result<Option<Contact>, StoreError> {
        let Some(item) = self
            .get_item(&self.contacts, contact_key(owner, other))
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(from_item::<ContactItem>(item)?.contact))
    }

    async fn remove(&self, a: &UserId, b: &UserId) -> Result<(), StoreError> {
        let delete = |owner: &UserId, other: &UserId| -> Result<TransactWriteItem, StoreError> {
            let d = build(
                Delete::builder()
                    .table_name(&self.contacts)
                    .set_key(Some(contact_key(owner, other)))
                    .condition_expression("attribute_exists(pk)")
                    .build(),
            )?;
            Ok(TransactWriteItem::builder().delete(d).build())
        };
        self.client
            .transact_write_items()
            .set_transact_items(Some(vec![delete(a, b)?, delete(b, a)?]))
            .send()
            .await
            .map_err(|e| transaction_error(e, &["missing", "missing"]))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue as AV;
    use chrono::TimeZone;

    fn ids() -> (RequestId, UserId, UserId) {
        (
            RequestId::parse("019a8f6e-0000-7000-8000-000000000001").unwrap(),
            UserId::parse("00000000-0000-4000-8000-00000000000b").unwrap(),
            UserId::parse("00000000-0000-4000-8000-00000000000a").unwrap(),
        )
    }

    fn request(status: RequestStatus) -> ContactRequest {
        let (id, sender, receiver) = ids();
        let t = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        ContactRequest {
            id,
            sender_id: sender,
            receiver_id: receiver,
            status,
            created_at: t,
            updated_at: t,
        }
    }

    fn str_attr(item: &Item, k: &str) -> Option<String> {
        match item.get(k) {
            Some(AV::S(v)) => Some(v.clone()),
            _ => None,
        }
    }

    #[test]
    fn pending_request_item_golden() {
        let item = to_item(&RequestItem::new(&request(RequestStatus::Pending))).unwrap();
        assert_eq!(
            str_attr(&item, "pk").unwrap(),
            "REQ#019a8f6e-0000-7000-8000-000000000001"
        );
        assert_eq!(
            str_attr(&item, "id").unwrap(),
            "019a8f6e-0000-7000-8000-000000000001"
        );
        assert_eq!(str_attr(&item, "status").unwrap(), "pending");
        assert_eq!(
            str_attr(&item, "pendingReceiver").unwrap(),
            "00000000-0000-4000-8000-00000000000a"
        );
        assert_eq!(
            str_attr(&item, "pendingSender").unwrap(),
            "00000000-0000-4000-8000-00000000000b"
        );
        assert_eq!(
            from_item::<RequestItem>(item).unwrap().request,
            request(RequestStatus::Pending)
        );
    }

    #[test]
    fn settled_request_items_leave_the_pending_indexes() {
        let item = to_item(&RequestItem::new(&request(RequestStatus::Accepted))).unwrap();
        assert_eq!(str_attr(&item, "status").unwrap(), "accepted");
        assert!(!item.contains_key("pendingReceiver") && !item.contains_key("pendingSender"));
    }

    #[test]
    fn pair_guard_is_the_same_whichever_side_sends() {
        let (_, a, b) = ids();
        assert_eq!(keys::pair_guard_pk(&a, &b), keys::pair_guard_pk(&b, &a));
        assert_eq!(
            keys::pair_guard_pk(&a, &b),
            "PAIR#00000000-0000-4000-8000-00000000000a#00000000-0000-4000-8000-00000000000b"
        );
    }

    #[test]
    fn contact_item_golden() {
        let (id, a, b) = ids();
        let t = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        let row = Contact {
            owner_id: a,
            contact_id: b,
            request_id: id,
            created_at: t,
        };
        let item = to_item(&ContactItem::new(&row)).unwrap();
        assert_eq!(
            str_attr(&item, "pk").unwrap(),
            "USER#00000000-0000-4000-8000-00000000000b"
        );
        assert_eq!(
            str_attr(&item, "sk").unwrap(),
            "CONTACT#00000000-0000-4000-8000-00000000000a"
        );
        assert_eq!(
            str_attr(&item, "ownerId").unwrap(),
            "00000000-0000-4000-8000-00000000000b"
        );
        assert_eq!(from_item::<ContactItem>(item).unwrap().contact, row);
    }
}
