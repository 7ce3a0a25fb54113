package ghsim

// InFlight is the number of requests the simulator is serving now (a test
// waits on it to act while a client's call is at "GitHub").
func (s *Sim) InFlight() int { return s.acct.current() }
