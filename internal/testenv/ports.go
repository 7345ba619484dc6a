package testenv

import (
	"fmt"
	"net"
	"sync"
)

// reserved remembers every port handed out by this process, so that two
// clusters started in parallel never receive the same one even if the kernel
// offers it again after the probe listener is closed.
var reserved = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// freePorts returns n distinct free TCP ports on 127.0.0.1. The ports are
// probed by listening on port 0; a process may still take one before the
// server binds it, which the caller handles by retrying on "address already
// in use".
func freePorts(n int) ([]int, error) {
	reserved.Lock()
	defer reserved.Unlock()
	var (
		ports     []int
		listeners []net.Listener
	)
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for tries := 0; len(ports) < n; tries++ {
		if tries > 100*n {
			return nil, fmt.Errorf("find %d free ports on 127.0.0.1: too many ports already in use", n)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
		}
		listeners = append(listeners, l)
		p := l.Addr().(*net.TCPAddr).Port
		if reserved.ports[p] {
			continue
		}
		reserved.ports[p] = true
		ports = append(ports, p)
	}
	return ports, nil
}
