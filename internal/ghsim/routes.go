package ghsim

func (s *Sim) routes() {
	s.appRoutes()
	s.repoRoutes()
	s.credentialRoutes()
	s.orgRoutes()
	s.issueRoutes()
	s.oidcRoutes()
	s.actionsRoutes()
	s.graphqlRoutes()
	s.mux.HandleFunc("/", s.notFoundHandler)
}
