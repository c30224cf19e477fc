/// A request body produced while it is sent: the store client pulls it in
/// order, and may pull a range again when libcurl retries the request on a
/// fresh connection, so a source keeps every byte it has handed out until
/// the request is over.
public protocol StoreBodySource: AnyObject {
    /// Copies body bytes starting at `offset` into `buffer` and returns how
    /// many (never more than `buffer.count`); may block until they arrive.
    /// 0 means the body ended before its declared length: the request is
    /// aborted. An error thrown here aborts the request and is rethrown,
    /// unchanged, by the store call that was sending it.
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}
