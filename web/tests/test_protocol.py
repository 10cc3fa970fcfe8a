"""The reconnect backoff, sampled in the browser from the module the app uses."""


def test_reconnect_backoff_is_jittered_exponential_and_capped(browser, gateway):
    context = browser.new_context(base_url=gateway)
    page = context.new_page()
    page.goto("/")
    samples = page.evaluate(
        """async () => {
            const { backoff } = await import('/js/socket.js');
            const out = {};
            for (const attempt of [0, 1, 2, 3, 5, 6, 10, 30])
                out[attempt] = Array.from({length: 400}, () => backoff(attempt));
            return out;
        }"""
    )
    context.close()
    for attempt, values in samples.items():
        base = min(30_000, 500 * 2 ** int(attempt))
        # min(30 s, 0.5 s × 2^attempt) × random(0.5, 1.5)
        assert all(0.5 * base <= v < 1.5 * base for v in values), (attempt, min(values), max(values))
        # Jittered: spread over the range, not one fixed delay.
        assert max(values) - min(values) > 0.5 * base, (attempt, min(values), max(values))
    assert max(samples["30"]) < 45_000
