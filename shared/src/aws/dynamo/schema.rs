use crate::StoreError;
use crate::tables::{self, TableDef};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use std::time::Duration;

/// Creates every table of [`tables::ALL`] that does not exist yet under `prefix`, from the same
/// definitions the adapters use, and waits until they are active. Existing tables are left as
/// they are. For the local gateway and the tests; deployments get their tables from template.yaml.
pub async fn ensure_tables(client: &Client, prefix: &str) -> Result<(), StoreError> {
    for def in tables::ALL {
        ensure_table(client, prefix, def).await?;
    }
    Ok(())
}

async fn ensure_table(client: &Client, prefix: &str, def: &TableDef) -> Result<(), StoreError> {
    let name = def.name(prefix);
    let unavailable = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Unavailable(e);
    match client.describe_table().table_name(&name).send().await {
        Ok(_) => return wait_active(client, &name).await,
        Err(e) if e.code() == Some("ResourceNotFoundException") => {}
        Err(e) => return Err(unavailable(Box::new(e))),
    }
    let key_schema = |pk: &str, sk: Option<&str>| -> Result<Vec<KeySchemaElement>, StoreError> {
        std::iter::once((pk, KeyType::Hash))
            .chain(sk.map(|k| (k, KeyType::Range)))
            .map(|(attr, kind)| {
                KeySchemaElement::builder()
                    .attribute_name(attr)
                    .key_type(kind)
                    .build()
                    .map_err(|e| unavailable(Box::new(e)))
            })
            .collect()
    };
    let mut attrs: Vec<&str> = std::iter::once(def.partition_key)
        .chain(def.sort_key)
        .chain(
            def.indexes
                .iter()
                .flat_map(|i| std::iter::once(i.partition_key).chain(i.sort_key)),
        )
        .collect();
    attrs.sort();
    attrs.dedup();
    let mut create = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(def.partition_key, def.sort_key)?));
    for attr in attrs {
        create = create.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| unavailable(Box::new(e)))?,
        );
    }
    for index in def.indexes {
        create = create.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .set_key_schema(Some(key_schema(index.partition_key, index.sort_key)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|e| unavailable(Box::new(e)))?,
        );
    }
    match create.send().await {
        Ok(_) => {}
        // Created concurrently by another process: fine.
        Err(e) if e.code() == Some("ResourceInUseException") => {}
        Err(e) => return Err(unavailable(Box::new(e))),
    }
    wait_active(client, &name).await?;
    if let Some(attr) = def.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(&name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attr)
                    .enabled(true)
                    .build()
                    .map_err(|e| unavailable(Box::new(e)))?,
            )
            .send()
            .await
            .map_err(|e| unavailable(Box::new(e)))?;
    }
    Ok(())
}

async fn wait_active(client: &Client, name: &str) -> Result<(), StoreError> {
    for _ in 0..120 {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(StoreError::Unavailable(
        format!("table {name} did not become active within 60 s").into(),
    ))
}
