package redistest

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeT records how Start ends without ending the real test.
type fakeT struct {
	testing.TB
	skipped, failed string
}

func (f *fakeT) Helper()         {}
func (f *fakeT) Cleanup(func())  {}
func (f *fakeT) TempDir() string { return "" }
func (f *fakeT) Skipf(format string, args ...any) {
	f.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func run(f *fakeT) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(f)
	}()
	<-done
}

func TestMissingRedisServer(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no redis-server here

	t.Setenv(RequireEnv, "")
	f := &fakeT{TB: t}
	run(f)
	require.Contains(t, f.skipped, "redis-server not found", "skips without "+RequireEnv)
	require.Empty(t, f.failed)

	t.Setenv(RequireEnv, "1")
	f = &fakeT{TB: t}
	run(f)
	require.Contains(t, f.failed, RequireEnv, "fails when "+RequireEnv+" is set")
	require.Empty(t, f.skipped)
}

func TestStartStopStart(t *testing.T) {
	s := StartServer(t, Options{Persist: true})
	_, err := command(s.Addr, "SET", "k", "v")
	require.NoError(t, err)
	require.NoError(t, s.Stop())
	require.Error(t, ping(s.Addr), "server still answers after Stop")
	require.NoError(t, s.Start())
	v, err := command(s.Addr, "GET", "k")
	require.NoError(t, err)
	require.Equal(t, "v", v, "persisted across the restart")
	require.Error(t, s.Start(), "starting a running server must fail")
}
