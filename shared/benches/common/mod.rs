//! What the benches share: running the relay and the delivery function by hand on the
//! in-memory ports.

use whatspe::app::{App, MemoryHandles};
use whatspe::ports::DeliveryJob;

/// Relays what was committed and delivers every queued job: returns the jobs delivered.
pub async fn drain(app: &App, handles: &MemoryHandles) -> usize {
    let batch = handles.stream.try_take(usize::MAX);
    for m in &batch {
        app.messages.relay(m).await.unwrap();
    }
    let n = batch.len();
    handles.stream.ack(batch, n);
    let mut jobs = 0;
    loop {
        let records = handles.queue.receive(100);
        if records.is_empty() {
            return jobs;
        }
        for r in records {
            let job: DeliveryJob = serde_json::from_str(&r.body).unwrap();
            app.delivery.deliver(&job, r.receives).await.unwrap();
            handles.queue.delete(&r.id);
            jobs += 1;
        }
    }
}
