import ArgumentParser
import DepotService

struct Depotctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "depotctl",
        abstract: "Administer a Depot deployment: database, plans, accounts, offboarding, tokens, clean-up, backups, keys and events.",
        discussion: """
            Every command reads the server's configuration file: --config PATH, else $DEPOT_CONFIG, else \(DepotConfiguration.defaultPath). Commands that only touch the database (init, migrate, plan, org, user, quota, backup, keys, stats, reservations, files, events) read it for paths only; gc, fsck, token issue, and user delete, org delete and file rm with --yes load it fully (store credentials, JWT keys). Run depotctl as the service user (or root) on the host that holds the database; it is safe to run while the workers serve requests.

            Output is for people; commands with --json print one JSON document for scripts. Sizes accept bytes or a KiB, MiB, GiB or TiB suffix (5GiB = 5368709120).

            EXIT STATUS
              0  success
              1  the command failed (database, store or file error) or found
                 problems: fsck without --repair found inconsistencies, gc (or
                 user delete, org delete, file rm with --yes) could not delete
                 an object at the store, keys status found files under a key id
                 the key file lacks
              2  usage error (unknown command or option, bad value), or a
                 configuration file that cannot be read or is invalid

            See `depotctl <command> --help` (or `depotctl help <command>`) for each command.
            """,
        subcommands: [
            InitCommand.self, MigrateCommand.self, MigrateDataCommand.self, PlanCommand.self, OrgCommand.self, UserCommand.self,
            TokenCommand.self, QuotaCommand.self, GCCommand.self, FsckCommand.self, BackupCommand.self,
            KeysCommand.self, StatsCommand.self, ReservationsCommand.self, FilesCommand.self, UploadsCommand.self, EventsCommand.self,
        ]
    )

    @OptionGroup var global: GlobalOptions

    func run() throws {
        throw CtlFailure.usage("a command is required\n\n" + Depotctl.helpMessage())
    }
}
