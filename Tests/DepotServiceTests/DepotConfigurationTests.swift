import DepotDomain
import DepotMetadata
import DepotService
import Foundation
import Testing

@Suite struct DepotConfigurationTests {
    @Test func minimalFileLoadsWithDefaults() throws {
        // A store endpoint and the three secret files are enough; everything else takes its documented default.
        let dir = try ConfigDirectory()
        let c = try DepotConfiguration.load(path: try dir.config(ConfigDirectory.minimal))
        #expect(c.store.endpoint == "http://127.0.0.1:8333")
        #expect(c.store.region == "us-east-1")
        #expect(c.store.bucket == "depot")
        #expect(c.store.accessKey == "AKIDEXAMPLE")
        #expect(c.store.secretKey == "store-secret-value-0123456789")
        #expect(c.listen == "/run/depot/depot.sock")
        #expect(c.socketMode == 0o660)
        #expect(c.publicURL == "http://127.0.0.1:8080")
        #expect(c.database == .sqlite(path: "/var/lib/depot/depot.sqlite3"))
        #expect(c.busyTimeoutMilliseconds == 5000)
        #expect(c.partSize == 16 << 20 && c.multipartThreshold == 32 << 20)
        #expect(c.plans == [.individual, .organization])
        #expect(c.individualPlan == "individual" && c.organizationPlan == "organization")
        #expect(c.masterKeyFile == dir.url.appendingPathComponent("master.keys").path)
        #expect(c.masterKeys.current.id == "k1")
        #expect(c.auth.keys.count == 1 && c.auth.keys[0].algorithm.rawValue == "HS256")
    }

    @Test func everySettingIsRead() throws {
        // Each documented key changes its setting; relative paths are taken from the file's directory.
        let dir = try ConfigDirectory()
        let c = try DepotConfiguration.load(path: try dir.config(ConfigDirectory.minimal + """

            [store]
            region = eu-central-1
            bucket = files
            ca_file = ca.pem
            connect_timeout_seconds = 7
            request_timeout_seconds = 900
            internal_location = /_s3/
            multipart_threshold = 64MiB
            part_size = 8MiB

            [server]
            listen = run/depot.sock
            socket_mode = 0600
            workers = 3
            upload_temp_dir = /var/tmp/depot
            public_url = https://depot.example.com/

            [database]
            path = db/depot.sqlite3
            busy_timeout_ms = 250

            [uploads]
            listen = run/upload.sock
            workers = 5
            reservation_ttl_seconds = 60
            orphan_grace_seconds = 120

            [auth]
            issuer = https://id.example.com
            audience = depot-api
            leeway_seconds = 5
            """))
        #expect(c.store.region == "eu-central-1" && c.store.bucket == "files")
        #expect(c.store.caFile == dir.url.appendingPathComponent("ca.pem").path)
        #expect(c.store.connectTimeoutSeconds == 7 && c.store.requestTimeoutSeconds == 900)
        #expect(c.storeInternalLocation == "/_s3/")
        #expect(c.multipartThreshold == 64 << 20 && c.partSize == 8 << 20)
        #expect(c.listen == dir.url.appendingPathComponent("run/depot.sock").path)
        #expect(c.socketMode == 0o600 && c.workers == 3)
        #expect(c.uploadListen == dir.url.appendingPathComponent("run/upload.sock").path && c.uploadWorkers == 5)
        #expect(c.publicURL == "https://depot.example.com")
        #expect(c.database == .sqlite(path: dir.url.appendingPathComponent("db/depot.sqlite3").path))
        #expect(c.busyTimeoutMilliseconds == 250)
        #expect(c.reservationTTLSeconds == 60 && c.orphanGraceSeconds == 120)
        #expect(c.auth.issuer == "https://id.example.com" && c.auth.audience == "depot-api" && c.auth.leewaySeconds == 5)
    }

    @Test func antivirusSectionIsRead() throws {
        // [antivirus]: absent means no scanning; every key read; nonsense refused.
        let dir = try ConfigDirectory()
        #expect(try DepotConfiguration.load(path: try dir.config(ConfigDirectory.minimal)).antivirus == nil)
        let c = try DepotConfiguration.load(path: try dir.config(ConfigDirectory.minimal + """

            [antivirus]
            clamd_socket = /run/clamav/clamd.ctl
            fail_open = true
            connect_timeout_seconds = 3
            reply_timeout_seconds = 300
            stream_max_length = 100MiB
            """))
        let av = try #require(c.antivirus)
        #expect(av.clamdSocket == "/run/clamav/clamd.ctl")
        #expect(av.failOpen)
        #expect(av.connectTimeoutSeconds == 3)
        #expect(av.replyTimeoutSeconds == 300)
        #expect(av.streamMaxLength == 100 << 20)
        let defaults = try #require(try DepotConfiguration.load(path: try dir.config(ConfigDirectory.minimal + "\n[antivirus]\nclamd_socket = /c.ctl\n")).antivirus)
        #expect(!defaults.failOpen)
        #expect(defaults.streamMaxLength == 25 << 20)
        for bad in ["fail_open = maybe", "stream_max_length = 5GiB", "reply_timeout_seconds = 0"] {
            #expect(throws: ConfigurationError.self) {
                try DepotConfiguration.load(path: try dir.config(ConfigDirectory.minimal + "\n[antivirus]\nclamd_socket = /c.ctl\n\(bad)\n"))
            }
        }
    }

    @Test func systemdListenIsKeptAsIs() throws {
        // "listen = systemd" is a keyword, not a relative path.
        let dir = try ConfigDirectory()
        let c = try DepotConfiguration.load(path: try dir.config(ConfigDirectory.minimal + "\n[server]\nlisten = systemd\n"))
        #expect(c.listen == "systemd")
    }

    @Test func postgresqlURLWithItsPasswordFile() throws {
        // [database] url names PostgreSQL (path is then ignored); the password comes from its own file, newline trimmed.
        let dir = try ConfigDirectory()
        try dir.write("db.password", "s3cret:with\\odd chars\n")
        let c = try DepotConfiguration.load(path: try dir.config(ConfigDirectory.minimal + """

            [database]
            path = ignored.sqlite3
            url = postgresql://depot@db.internal:5433/depot?sslmode=verify-full
            password_file = db.password
            """))
        #expect(c.database == .postgresql(url: "postgresql://depot@db.internal:5433/depot?sslmode=verify-full", password: "s3cret:with\\odd chars"))
    }

    @Test func postgresqlPasswordInTheURLIsRefused() throws {
        // A password written into the URL (userinfo or parameter) stops the load, and the message never repeats it.
        let m = ConfigDirectory.minimal
        for url in ["postgresql://depot:hunter2@db/depot", "postgres://depot:hunter2@db:5432/depot", "postgresql://db/depot?user=depot&password=hunter2"] {
            let message = try loadError(m + "\n[database]\nurl = \(url)\n")
            #expect(message == "[database] url holds a password: remove it and name a password_file (or credential:NAME) instead")
            #expect(message?.contains("hunter2") == false)
        }
        #expect(try loadError(m + "\n[database]\nurl = mysql://db/depot\n") == "[database] url must be a postgresql:// URL")
        #expect(try loadError(m + "\n[database]\nurl = postgresql://depot@db/depot\npassword_file = nope\n")
            == "[database] password_file: cannot read nope")
    }

    @Test func planSectionsDefineAndOverridePlans() throws {
        // [plan.NAME] adds a plan or changes a built-in one; [plans] picks the defaults.
        let dir = try ConfigDirectory()
        let c = try DepotConfiguration.load(path: try dir.config(ConfigDirectory.minimal + """

            [plans]
            organization_plan = team

            [plan.team]
            quota = 10GiB
            max_file_size = 1GiB
            max_files = 5000
            categories = general, data_source

            [plan.individual]
            quota = 1GiB
            """))
        #expect(c.organizationPlan == "team" && c.individualPlan == "individual")
        #expect(c.plans.map(\.name) == ["individual", "organization", "team"])
        #expect(c.plans[2] == Plan(name: "team", quotaBytes: 10 << 30, maxFileSizeBytes: 1 << 30, maxFiles: 5000,
                                   allowedCategories: [.general, .dataSource]))
        var individual = Plan.individual
        individual.quotaBytes = 1 << 30
        #expect(c.plans[0] == individual)
    }

    @Test func credentialPathsReadFromTheCredentialsDirectory() throws {
        // "credential:NAME" reads NAME from $CREDENTIALS_DIRECTORY, as systemd's LoadCredential= provides it.
        let dir = try ConfigDirectory()
        let creds = try ConfigDirectory()
        try creds.write("store-access.key", "CRED-ACCESS\n")
        let text = ConfigDirectory.minimal.replacingOccurrences(of: "access_key_file = access.key", with: "access_key_file = credential:store-access.key")
        setenv("CREDENTIALS_DIRECTORY", creds.path, 1)
        defer { unsetenv("CREDENTIALS_DIRECTORY") }
        let c = try DepotConfiguration.load(path: try dir.config(text))
        #expect(c.store.accessKey == "CRED-ACCESS")
    }

    /// The error `load` gives for `text` (with the standard secret files present).
    func loadError(_ text: String, prepare: (ConfigDirectory) throws -> Void = { _ in }) throws -> String? {
        let dir = try ConfigDirectory()
        try prepare(dir)
        let path = try dir.config(text)
        do {
            _ = try DepotConfiguration.load(path: path)
            return nil
        } catch let e as ConfigurationError {
            return e.message
        }
    }

    @Test func missingFileIsAConfigurationError() throws {
        // A path that does not exist is reported by name.
        let error = #expect(throws: ConfigurationError.self) { try DepotConfiguration.load(path: "/nonexistent/depot.conf") }
        #expect(error?.message == "cannot read configuration file /nonexistent/depot.conf")
    }

    @Test func requiredSettingsAreNamed() throws {
        // Leaving out the endpoint, a store key file or the master key file names what is missing.
        let m = ConfigDirectory.minimal
        #expect(try loadError(m.replacingOccurrences(of: "endpoint = http://127.0.0.1:8333\n", with: "")) == "[store] endpoint is required")
        #expect(try loadError(m.replacingOccurrences(of: "secret_key_file = secret.key\n", with: ""))
            == "[store] access_key_file and secret_key_file are required")
        #expect(try loadError(m.replacingOccurrences(of: "master_key_file = master.keys", with: "")) == "[encryption] master_key_file is required")
        #expect(try loadError(m.replacingOccurrences(of: "hs256_secret_file = jwt.key", with: "")) == "[auth] HS256 needs hs256_secret_file")
    }

    @Test func unreadableSecretFilesAreNamedNotRead() throws {
        // A secret file that cannot be read is named by its configured path.
        let m = ConfigDirectory.minimal
        #expect(try loadError(m.replacingOccurrences(of: "secret.key", with: "missing.key")) == "[store] secret_key_file: cannot read missing.key")
        #expect(try loadError(m.replacingOccurrences(of: "master.keys", with: "missing.keys")) == "[encryption] cannot read master_key_file")
    }

    @Test func weakOrUnknownAuthIsRefused() throws {
        // A short HS256 secret, an unknown algorithm or a missing public key file stops the load.
        let m = ConfigDirectory.minimal
        #expect(try loadError(m) { try $0.write("jwt.key", "short-secret\n") } == "[auth] the HS256 secret must be at least 32 bytes")
        #expect(try loadError(m + "\n[auth]\nalgorithms = HS256, none\n") == "[auth] unknown algorithm NONE (HS256, ES256, RS256)")
        #expect(try loadError(m + "\n[auth]\nalgorithms = ES256\n") == "[auth] ES256 needs es256_public_key_file")
    }

    @Test func badValuesAreRefused() throws {
        // Out-of-range or malformed values are configuration errors naming the setting.
        let m = ConfigDirectory.minimal
        #expect(try loadError(m + "\n[store]\npart_size = 4MiB\n") == "[store] part_size must be at least 5MiB")
        #expect(try loadError(m + "\n[server]\nsocket_mode = 0x1ff\n") == "[server] socket_mode must be octal")
        #expect(try loadError(m + "\n[server]\nsocket_mode = 0999\n") == "[server] socket_mode must be octal")
        #expect(try loadError(m + "\n[server]\nworkers = many\n") == "[server] workers: 'many' is not a number")
        #expect(try loadError(m + "\n[uploads]\nworkers = 0\n") == "[uploads] workers must be from 1 to 256")
        #expect(try loadError(m + "\n[plan.x]\ncategories = general, videos\n") == "[plan.x] unknown category videos")
        #expect(try loadError(m + "\n[plans]\nindividual_plan = gold\n") == "[plans] default plans must be defined")
        #expect(try loadError(m + "\n[plan.x]\nquota = 99999999TiB\n") == "[plan.x] quota: '99999999TiB' is not a number")
    }

    @Test func busyTimeoutBeyondItsRangeIsRefusedNotFatal() throws {
        // A busy timeout too large for SQLite's 32-bit milliseconds is a configuration error, not a crash.
        let m = ConfigDirectory.minimal
        #expect(try loadError(m + "\n[database]\nbusy_timeout_ms = 4294967296\n") == "[database] busy_timeout_ms is out of range")
    }

    @Test func errorsNeverContainSecrets() throws {
        // Whatever goes wrong, the message does not repeat the store secret, the JWT secret or a master key.
        let m = ConfigDirectory.minimal
        let errors = [
            try loadError(m + "\n[store]\npart_size = 1\n"),
            try loadError(m) { try $0.write("master.keys", "k1 \(ConfigDirectory.hexKey1.dropLast(2))\n") },
            try loadError(m) { try $0.write("master.keys", "k1 \(ConfigDirectory.hexKey1)\nk1 \(ConfigDirectory.hexKey2)\n") },
            try loadError(m) { try $0.write("jwt.key", "0123456789\n") },
        ]
        for error in errors {
            let e = try #require(error)
            for secret in ["store-secret-value", "AKIDEXAMPLE", ConfigDirectory.jwtSecret, "0123456789", String(ConfigDirectory.hexKey1.prefix(16))] {
                #expect(!e.contains(secret), "\(e)")
            }
        }
    }
}
