package redistest

import (
	"errors"
	"fmt"
	"syscall"
)

// Pause stops the server with SIGSTOP: its connections stay open, the kernel still
// accepts new ones into the listen backlog, and nothing is ever answered — a hung
// Redis (swapping, a stuck fork, a partition without resets). Resume undoes it.
func (s *Server) Pause() error { return s.signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT); it answers what queued up meanwhile.
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT) }

// Kill ends the server with SIGKILL (no shutdown, no final fsync beyond what
// appendfsync already did) and waits for it to exit; Start brings it back.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("redistest: server not running")
	}
	cmd, exited := s.cmd, s.exited
	s.cmd, s.exited = nil, nil
	if err := cmd.Process.Kill(); err != nil {
		return fmt.Errorf("redistest: kill: %w", err)
	}
	<-exited
	return nil
}

// PID is the server's process id (0 when stopped), for tests that signal it themselves.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("redistest: server not running")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("redistest: %v: %w", sig, err)
	}
	return nil
}
