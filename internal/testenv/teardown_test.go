package testenv_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
)

// gone reports whether pid no longer runs: it does not exist, or it is a
// zombie waiting for an init process that does not reap orphans.
func gone(pid int) bool {
	if syscall.Kill(pid, 0) == syscall.ESRCH {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return os.IsNotExist(err)
	}
	// pid (comm) state ...; comm may contain spaces, so split after ")".
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

func waitGone(t *testing.T, procs []testenv.Process, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, p := range procs {
		err := testutil.Poll(time.Until(deadline), fmt.Sprintf("%s (PID %d) exits", p.Name, p.PID), func() error {
			if !gone(p.PID) {
				return errors.New("still running")
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
}

func TestClustersHelperStopsEverything(t *testing.T) {
	var (
		procs []testenv.Process
		dir   string
	)
	t.Run("use", func(t *testing.T) {
		c := testenv.Clusters(t, 1)[0]
		procs = c.Processes()
		dir = c.Dir
		if len(procs) != 2 {
			t.Fatalf("cluster processes = %v, want API server and controller manager", procs)
		}
		for _, p := range procs {
			if gone(p.PID) {
				t.Errorf("%s (PID %d) not running", p.Name, p.PID)
			}
		}
	})
	if len(procs) == 0 {
		t.Skip("no cluster started")
	}
	// Cleanup already ran and reaped the processes; nothing may remain.
	waitGone(t, procs, 0)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("state directory %s left behind: %v", dir, err)
	}
}

func TestStopIsIdempotentAndFinal(t *testing.T) {
	testenv.Require(t)
	ctx := context.Background()
	env, err := testenv.Start(ctx, testenv.Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	procs := env.Processes()
	if len(procs) != 1 || procs[0].Name != "etcd" {
		t.Fatalf("processes after Start = %v, want etcd", procs)
	}
	if err := env.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := env.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	waitGone(t, procs, 0)
	if _, err := env.AddClusters(ctx, "late"); err == nil {
		t.Errorf("AddClusters after Stop succeeded")
	}
}

const panicChildEnv = "ASMFED_TESTENV_PANIC_CHILD"

// panicChild starts a cluster, reports its processes and state directory on
// stdout, then panics without any cleanup.
func panicChild() {
	env, err := testenv.Start(context.Background(), testenv.Options{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	if _, err := env.AddClusters(context.Background(), "doomed"); err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	report, _ := json.Marshal(map[string]any{"procs": env.Processes(), "dir": env.Dir()})
	fmt.Println(string(report))
	panic("simulated test panic")
}

// A test binary that panics (or times out, or is killed) cannot run its
// cleanups; the servers must die with it anyway, and the next Start removes
// the state it left.
func TestPanicLeavesNoProcess(t *testing.T) {
	testenv.Require(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), panicChildEnv+"=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var report struct {
		Procs []testenv.Process `json:"procs"`
		Dir   string            `json:"dir"`
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &report); err == nil {
			break
		}
		t.Logf("child: %s", sc.Text())
	}
	werr := cmd.Wait()
	if werr == nil || !strings.Contains(stderr.String(), "simulated test panic") {
		t.Fatalf("child did not panic: %v\n%s", werr, stderr.String())
	}
	if len(report.Procs) != 3 {
		t.Fatalf("child reported processes %v, want etcd, API server, controller manager", report.Procs)
	}
	waitGone(t, report.Procs, 10*time.Second)

	env, err := testenv.Start(context.Background(), testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(report.Dir); !os.IsNotExist(err) {
		t.Errorf("state directory %s of the panicked binary not removed: %v", report.Dir, err)
	}
}

// With AdminToken, clients authenticate with a bearer token as a cluster administrator; a wrong
// token is refused.
func TestAdminToken(t *testing.T) {
	testenv.Require(t)
	ctx := context.Background()
	env, err := testenv.Start(ctx, testenv.Options{AdminToken: "sandbox-token-for-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	cs, err := env.AddClusters(ctx, "tok")
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(cs[0].TokenConfig("sandbox-token-for-test"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("admin token refused: %v", err)
	}
	bad, err := kubernetes.NewForConfig(cs[0].TokenConfig("wrong"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Errorf("wrong token: %v, want 401", err)
	}
}
