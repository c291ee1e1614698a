//! Every tool the plugin has, with its toolset and whether it writes: the table settings check
//! names against and the listing filters by. The declarations (schemas, handlers) live with
//! their toolsets; a unit test keeps the two in step.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toolset {
    Context,
    Repos,
    Issues,
    PullRequests,
    Users,
    Actions,
}

impl Toolset {
    pub const ALL: &'static [Toolset] = &[
        Toolset::Context,
        Toolset::Repos,
        Toolset::Issues,
        Toolset::PullRequests,
        Toolset::Users,
        Toolset::Actions,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Toolset::Context => "context",
            Toolset::Repos => "repos",
            Toolset::Issues => "issues",
            Toolset::PullRequests => "pull_requests",
            Toolset::Users => "users",
            Toolset::Actions => "actions",
        }
    }

    pub fn parse(name: &str) -> Option<Toolset> {
        Toolset::ALL.iter().copied().find(|t| t.name() == name)
    }
}

pub struct Entry {
    pub name: &'static str,
    pub toolset: Toolset,
    pub writes: bool,
}

const fn read(name: &'static str, toolset: Toolset) -> Entry {
    Entry {
        name,
        toolset,
        writes: false,
    }
}

const fn write(name: &'static str, toolset: Toolset) -> Entry {
    Entry {
        name,
        toolset,
        writes: true,
    }
}

use Toolset::*;

pub const TOOLS: &[Entry] = &[
    read("get_me", Context),
    read("get_file_contents", Repos),
    read("list_commits", Repos),
    read("get_commit", Repos),
    read("list_branches", Repos),
    read("list_tags", Repos),
    read("list_releases", Repos),
    read("get_latest_release", Repos),
    read("search_code", Repos),
    read("search_repositories", Repos),
    write("create_branch", Repos),
    write("create_or_update_file", Repos),
    write("push_files", Repos),
    write("delete_file", Repos),
    write("fork_repository", Repos),
    write("create_repository", Repos),
    read("issue_read", Issues),
    read("list_issues", Issues),
    read("search_issues", Issues),
    write("issue_write", Issues),
    write("add_issue_comment", Issues),
    read("pull_request_read", PullRequests),
    read("list_pull_requests", PullRequests),
    read("search_pull_requests", PullRequests),
    write("create_pull_request", PullRequests),
    write("update_pull_request", PullRequests),
    write("merge_pull_request", PullRequests),
    write("pull_request_review_write", PullRequests),
    read("search_users", Users),
    read("actions_list", Actions),
    read("actions_get", Actions),
    read("get_job_logs", Actions),
];

pub fn find(name: &str) -> Option<&'static Entry> {
    TOOLS.iter().find(|e| e.name == name)
}
