import ArgumentParser
import DepotMetadata
import DepotService
import DepotStore
import Foundation

// depotctl: the admin tool. Parsing is done here rather than through
// ParsableCommand.main() so every failure maps to the documented exit codes
// (0 ok, 1 failure or problems found, 2 usage or configuration error).

setvbuf(stdout, nil, _IOLBF, 0)

func runDepotctl() -> Int32 {
    var command: ParsableCommand
    do {
        command = try Depotctl.parseAsRoot()
    } catch {
        let code = Depotctl.exitCode(for: error)
        let message = Depotctl.fullMessage(for: error)
        if code == .success {
            if !message.isEmpty { print(message) }
            return Exit.ok
        }
        printError(message)
        return Exit.usage
    }
    do {
        try command.run()
        return Exit.ok
    } catch let e as CtlFailure {
        printError("depotctl: \(e.message)")
        return e.code
    } catch is ProblemsFound {
        return Exit.failure
    } catch let e as ConfigurationError {
        printError("depotctl: configuration: \(e.message)")
        return Exit.usage
    } catch let e as DatabaseError {
        switch e {
        case .schemaTooNew(let found, let supported):
            printError("depotctl: the database has schema version \(found), newer than this depotctl supports (\(supported)); install the Depot release that wrote it, or restore a backup")
        case .busy:
            printError("depotctl: the database stayed locked past the busy timeout; retry")
        default:
            printError("depotctl: \(e.description)")
        }
        return Exit.failure
    } catch let e as StoreError {
        printError("depotctl: \(e.description)")
        return Exit.failure
    } catch let e as ValidationError {
        printError("Error: \(e.message)\n" + Depotctl.usageString(for: type(of: command)))
        return Exit.usage
    } catch {
        let code = Depotctl.exitCode(for: error)
        let message = Depotctl.fullMessage(for: error)
        if code == .success {
            if !message.isEmpty { print(message) }
            return Exit.ok
        }
        printError(message.isEmpty ? "depotctl: \(error)" : message)
        return code == .validationFailure ? Exit.usage : Exit.failure
    }
}

exit(runDepotctl())
