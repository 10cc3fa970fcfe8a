//! CloudWatch metrics as Embedded Metric Format log lines: no API call, no extra latency.

/// Counts one occurrence of `name` in the `WhatsPe` namespace.
pub fn count(name: &str) {
    println!("{}", emf_line(name, chrono::Utc::now().timestamp_millis()));
}

fn emf_line(name: &str, now_ms: i64) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": "WhatsPe",
                "Dimensions": [[]],
                "Metrics": [{ "Name": name, "Unit": "Count" }]
            }]
        },
        name: 1
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn emf_line_declares_the_metric_and_its_value() {
        let v: serde_json::Value =
            serde_json::from_str(&super::emf_line("DeliveryEnqueueFailed", 7)).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 7);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "DeliveryEnqueueFailed"
        );
        assert_eq!(v["DeliveryEnqueueFailed"], 1);
    }
}
