import DepotDomain
import Testing

@Suite struct ImageSnifferTests {
    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    @Test func pngSignature() {
        // The 8-byte PNG signature, with or without data after it, is PNG.
        #expect(ImageSniffer.imageType(Self.png) == "image/png")
        #expect(ImageSniffer.imageType(Self.png + [0, 0, 0, 13] + Array("IHDR".utf8)) == "image/png")
    }

    @Test func pngNearMisses() {
        // A truncated signature or one mangled by text-mode line ending conversion is not PNG.
        #expect(ImageSniffer.imageType(Array(Self.png.prefix(7))) == nil)
        #expect(ImageSniffer.imageType([0x89, 0x50, 0x4E, 0x47, 0x0A, 0x1A, 0x0A, 0x00]) == nil)
        #expect(ImageSniffer.imageType(Array("PNG\r\n".utf8)) == nil)
    }

    @Test func jpegSignature() {
        // FF D8 FF starts a JPEG (JFIF, Exif or raw).
        #expect(ImageSniffer.imageType([0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10] + Array("JFIF".utf8)) == "image/jpeg")
        #expect(ImageSniffer.imageType([0xFF, 0xD8, 0xFF, 0xE1]) == "image/jpeg")
        #expect(ImageSniffer.imageType([0xFF, 0xD8, 0xFF]) == "image/jpeg")
    }

    @Test func jpegNearMisses() {
        // Only two of the three marker bytes, or a wrong third byte, is not JPEG.
        #expect(ImageSniffer.imageType([0xFF, 0xD8]) == nil)
        #expect(ImageSniffer.imageType([0xFF, 0xD8, 0xFE, 0xE0]) == nil)
        #expect(ImageSniffer.imageType([0xD8, 0xFF, 0xFF]) == nil)
    }

    @Test func gifBothVersions() {
        // GIF87a and GIF89a are GIF.
        #expect(ImageSniffer.imageType(Array("GIF87a".utf8) + [1, 0, 1, 0]) == "image/gif")
        #expect(ImageSniffer.imageType(Array("GIF89a".utf8)) == "image/gif")
    }

    @Test func gifNearMisses() {
        // Other versions, lowercase, or a truncated header are not GIF.
        for head in ["GIF88a", "GIF89b", "gif89a", "GIF89", "GIF8"] {
            #expect(ImageSniffer.imageType(Array(head.utf8)) == nil, "\(head)")
        }
    }

    @Test func webpSignature() {
        // RIFF, a 4-byte size, then WEBP is WebP, also at exactly 12 bytes.
        let head = Array("RIFF".utf8) + [0x24, 0, 0, 0] + Array("WEBP".utf8)
        #expect(ImageSniffer.imageType(head) == "image/webp")
        #expect(ImageSniffer.imageType(head + Array("VP8 ".utf8)) == "image/webp")
    }

    @Test func webpNearMisses() {
        // Other RIFF forms (WAVE, AVI), RIFX, lowercase, or a header cut short are not WebP.
        let size: [UInt8] = [0x24, 0, 0, 0]
        #expect(ImageSniffer.imageType(Array("RIFF".utf8) + size + Array("WAVE".utf8)) == nil)
        #expect(ImageSniffer.imageType(Array("RIFF".utf8) + size + Array("AVI ".utf8)) == nil)
        #expect(ImageSniffer.imageType(Array("RIFX".utf8) + size + Array("WEBP".utf8)) == nil)
        #expect(ImageSniffer.imageType(Array("RIFF".utf8) + size + Array("webp".utf8)) == nil)
        #expect(ImageSniffer.imageType(Array("RIFF".utf8) + size + Array("WEB".utf8)) == nil)
        #expect(ImageSniffer.imageType(Array("RIFFWEBP".utf8)) == nil)
        #expect(ImageSniffer.imageType(Array("WEBP".utf8)) == nil)
    }

    @Test func nonImagesAreRefused() {
        // Empty input, SVG, HTML, PDF and ZIP are not accepted images, whatever their name says.
        let heads = ["", "<svg xmlns=\"http://www.w3.org/2000/svg\">", "<?xml version=\"1.0\"?><svg/>", "<html>", "%PDF-1.7", "PK\u{3}\u{4}"]
        for head in heads {
            #expect(ImageSniffer.imageType(Array(head.utf8)) == nil, "\(head)")
        }
    }
}
