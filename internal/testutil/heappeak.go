package testutil

import (
	"runtime"
	"runtime/metrics"
	"time"
)

// heapObjects is the runtime metric of heap memory held by objects, live or not yet swept: what
// the process's heap holds at a moment, read without stopping the world.
const heapObjects = "/memory/classes/heap/objects:bytes"

// HeapPeak samples the heap from StartHeapPeak until Stop, for benchmarks that report how much
// memory an operation holds at its peak rather than how much it allocates in all.
type HeapPeak struct {
	base uint64
	stop chan struct{}
	done chan uint64
}

// StartHeapPeak collects garbage, takes the heap's size as the base, and samples it every
// interval until Stop.
func StartHeapPeak(interval time.Duration) *HeapPeak {
	runtime.GC()
	h := &HeapPeak{base: heapNow(), stop: make(chan struct{}), done: make(chan uint64, 1)}
	go func() {
		peak := h.base
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if n := heapNow(); n > peak {
				peak = n
			}
			select {
			case <-h.stop:
				h.done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// Stop ends the sampling and returns the highest heap seen above the base, in bytes.
func (h *HeapPeak) Stop() uint64 {
	close(h.stop)
	if peak := <-h.done; peak > h.base {
		return peak - h.base
	}
	return 0
}

func heapNow() uint64 {
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
