package ghsim

func (s *Sim) routes() {
	s.appRoutes()
	s.repoRoutes()
	s.oidcRoutes()
	s.mux.HandleFunc("/", s.notFoundHandler)
}
