package harness

import "time"

// LeakWait shortens how long cleanup waits for goroutines to end, so a test
// of the leak check itself is quick.
func LeakWait(d time.Duration) Option { return func(c *config) { c.leakWait = d } }
