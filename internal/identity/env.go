package identity

import "github.com/jitkey/jitkey/internal/policy"

// FromEnvironment reads the job's identity from the runner's environment
// variables. Any earlier step of the job could have changed them, so the
// claims are unverified, and the environment (deployment) is unknown.
func FromEnvironment(getenv func(string) string) policy.Claims {
	return policy.Claims{
		Repository:        getenv("GITHUB_REPOSITORY"),
		RepositoryOwner:   getenv("GITHUB_REPOSITORY_OWNER"),
		RepositoryID:      getenv("GITHUB_REPOSITORY_ID"),
		RepositoryOwnerID: getenv("GITHUB_REPOSITORY_OWNER_ID"),
		WorkflowRef:       getenv("GITHUB_WORKFLOW_REF"),
		Ref:               getenv("GITHUB_REF"),
		RefType:           getenv("GITHUB_REF_TYPE"),
		RefProtected:      getenv("GITHUB_REF_PROTECTED") == "true",
		EventName:         getenv("GITHUB_EVENT_NAME"),
		Actor:             getenv("GITHUB_ACTOR"),
		RunnerEnvironment: getenv("RUNNER_ENVIRONMENT"),
		Verified:          false,
	}
}
