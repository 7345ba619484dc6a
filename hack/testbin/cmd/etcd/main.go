// Command etcd is the etcd server built from go.etcd.io/etcd/server/v3 so that
// tests need no release download; see hack/testbin/build.sh.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
