package drm

// Request encoding (include/uapi/asm-generic/ioctl.h): direction in bits
// 30–31, argument size in 16–29, type in 8–15, number in 0–7. "IN" and
// "OUT" are the kernel's view: IN means user → kernel (_IOC_WRITE).
const (
	_IOC_NONE  = 0
	_IOC_WRITE = 1
	_IOC_READ  = 2

	iocIn  = _IOC_WRITE << 30
	iocOut = _IOC_READ << 30
)

// IOC builds a request number.
func IOC(dir, typ, nr, size uint32) uint32 { return dir<<30 | size<<16 | typ<<8 | nr }

// IOWR, IOW and IOR are the usual shorthands.
func IOWR(typ, nr, size uint32) uint32 { return IOC(_IOC_READ|_IOC_WRITE, typ, nr, size) }
func IOW(typ, nr, size uint32) uint32  { return IOC(_IOC_WRITE, typ, nr, size) }
func IOR(typ, nr, size uint32) uint32  { return IOC(_IOC_READ, typ, nr, size) }

func iocNr(cmd uint32) uint32   { return cmd & 0xff }
func iocType(cmd uint32) uint32 { return cmd >> 8 & 0xff }
func iocSize(cmd uint32) uint32 { return cmd >> 16 & 0x3fff }

// DRM_IOCTL_BASE is the type byte of every DRM ioctl; driver ioctls use
// numbers DRM_COMMAND_BASE up to DRM_COMMAND_END.
const (
	DRM_IOCTL_BASE   = 'd'
	DRM_COMMAND_BASE = 0x40
	DRM_COMMAND_END  = 0xa0
)

// Core request numbers. VERSION and GET_UNIQUE are the 32-bit (compat) form: a wasm32
// guest is a 32-bit process, and struct drm_version has size_t and
// pointer members (DESIGN.md, "The guest ABI").
var (
	DRM_IOCTL_VERSION                 = IOWR(DRM_IOCTL_BASE, 0x00, drmVersion32Size)
	DRM_IOCTL_GET_UNIQUE              = IOWR(DRM_IOCTL_BASE, 0x01, drmUnique32Size)
	DRM_IOCTL_SET_CLIENT_CAP          = IOW(DRM_IOCTL_BASE, 0x0d, setClientCapSize)
	DRM_IOCTL_MODE_GETRESOURCES       = IOWR(DRM_IOCTL_BASE, 0xA0, cardResSize)
	DRM_IOCTL_MODE_GETENCODER         = IOWR(DRM_IOCTL_BASE, 0xA6, getEncoderSize)
	DRM_IOCTL_MODE_GETPLANERESOURCES  = IOWR(DRM_IOCTL_BASE, 0xB5, planeResSize)
	DRM_IOCTL_MODE_GETPLANE           = IOWR(DRM_IOCTL_BASE, 0xB6, getPlaneSize)
	DRM_IOCTL_MODE_GETCRTC            = IOWR(DRM_IOCTL_BASE, 0xA1, getCRTCSize)
	DRM_IOCTL_MODE_GETPROPERTY        = IOWR(DRM_IOCTL_BASE, 0xAA, getPropertySize)
	DRM_IOCTL_MODE_OBJ_GETPROPERTIES  = IOWR(DRM_IOCTL_BASE, 0xB9, objGetPropertiesSize)
	DRM_IOCTL_MODE_CREATE_DUMB        = IOWR(DRM_IOCTL_BASE, 0xB2, createDumbSize)
	DRM_IOCTL_MODE_MAP_DUMB           = IOWR(DRM_IOCTL_BASE, 0xB3, mapDumbSize)
	DRM_IOCTL_MODE_DESTROY_DUMB       = IOWR(DRM_IOCTL_BASE, 0xB4, destroyDumbSize)
	DRM_IOCTL_MODE_GETCONNECTOR       = IOWR(DRM_IOCTL_BASE, 0xA7, getConnectorSize)
	DRM_IOCTL_MODE_SETCRTC            = IOWR(DRM_IOCTL_BASE, 0xA2, setCRTCSize)
	DRM_IOCTL_MODE_GETPROPBLOB        = IOWR(DRM_IOCTL_BASE, 0xAC, getBlobSize)
	DRM_IOCTL_MODE_RMFB               = IOWR(DRM_IOCTL_BASE, 0xAF, rmFBSize)
	DRM_IOCTL_MODE_PAGE_FLIP          = IOWR(DRM_IOCTL_BASE, 0xB0, pageFlipSize)
	DRM_IOCTL_MODE_ADDFB2             = IOWR(DRM_IOCTL_BASE, 0xB8, fbCmd2Size)
	DRM_IOCTL_MODE_ATOMIC             = IOWR(DRM_IOCTL_BASE, 0xBC, atomicSize)
	DRM_IOCTL_MODE_CREATEPROPBLOB     = IOWR(DRM_IOCTL_BASE, 0xBD, createBlobSize)
	DRM_IOCTL_MODE_DESTROYPROPBLOB    = IOWR(DRM_IOCTL_BASE, 0xBE, destroyBlobSize)
	DRM_IOCTL_GET_CAP                 = IOWR(DRM_IOCTL_BASE, 0x0c, getCapSize)
	DRM_IOCTL_SYNCOBJ_CREATE          = IOWR(DRM_IOCTL_BASE, 0xBF, 8)
	DRM_IOCTL_SYNCOBJ_DESTROY         = IOWR(DRM_IOCTL_BASE, 0xC0, 8)
	DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD    = IOWR(DRM_IOCTL_BASE, 0xC1, 16)
	DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE    = IOWR(DRM_IOCTL_BASE, 0xC2, 16)
	DRM_IOCTL_SYNCOBJ_WAIT            = IOWR(DRM_IOCTL_BASE, 0xC3, 40)
	DRM_IOCTL_SYNCOBJ_RESET           = IOWR(DRM_IOCTL_BASE, 0xC4, 16)
	DRM_IOCTL_SYNCOBJ_SIGNAL          = IOWR(DRM_IOCTL_BASE, 0xC5, 16)
	DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT   = IOWR(DRM_IOCTL_BASE, 0xCA, 48)
	DRM_IOCTL_SYNCOBJ_QUERY           = IOWR(DRM_IOCTL_BASE, 0xCB, 24)
	DRM_IOCTL_SYNCOBJ_TRANSFER        = IOWR(DRM_IOCTL_BASE, 0xCC, 32)
	DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL = IOWR(DRM_IOCTL_BASE, 0xCD, 24)
	DRM_IOCTL_SYNCOBJ_EVENTFD         = IOWR(DRM_IOCTL_BASE, 0xCF, 24)
)
