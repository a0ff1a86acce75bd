#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

/* IOCTL commands - must match the ones in the driver */
#define MEM_IOCTL_MAGIC 'M'
#define MEM_IOCTL_ALLOC_OBJECT _IO(MEM_IOCTL_MAGIC, 1)
#define MEM_IOCTL_FREE_OBJECT  _IOW(MEM_IOCTL_MAGIC, 2, int)

#define KMALLOC_SIZE (4 * 1024)       /* 4 KB */
#define DMA_SIZE (16 * 1024)          /* 16 KB */

int main(int argc, char *argv[])
{
    int fd, ret, i;
    char buffer[128];
    int object_ids[10] = {0};
    void *kmalloc_mapped = NULL;
    void *dma_mapped = NULL;
    
    /* Open the device */
    fd = open("/dev/memdriver0", O_RDWR);
    if (fd < 0) {
        perror("Failed to open device");
        return 1;
    }
    
    printf("Device opened successfully\n");
    
    /* Test writing to device */
    strcpy(buffer, "Hello from user space!");
    ret = write(fd, buffer, strlen(buffer));
    if (ret < 0) {
        perror("Failed to write to device");
        close(fd);
        return 1;
    }
    
    printf("Wrote %d bytes to device\n", ret);
    
    /* Test reading from device */
    memset(buffer, 0, sizeof(buffer));
    ret = read(fd, buffer, sizeof(buffer) - 1);
    if (ret < 0) {
        perror("Failed to read from device");
        close(fd);
        return 1;
    }
    
    printf("Read %d bytes from device: %s\n", ret, buffer);
    
    /* Test IOCTL to allocate objects */
    printf("Allocating objects using kmem_cache...\n");
    for (i = 0; i < 5; i++) {
        ret = ioctl(fd, MEM_IOCTL_ALLOC_OBJECT);
        if (ret < 0) {
            perror("Failed to allocate object");
        } else {
            object_ids[i] = ret;
            printf("Allocated object ID: %d\n", ret);
        }
    }
    
    /* Test IOCTL to free objects */
    printf("Freeing objects...\n");
    for (i = 0; i < 5; i++) {
        if (object_ids[i] > 0) {
            ret = ioctl(fd, MEM_IOCTL_FREE_OBJECT, &object_ids[i]);
            if (ret < 0) {
                perror("Failed to free object");
            } else {
                printf("Freed object ID: %d\n", object_ids[i]);
            }
        }
    }
    
    /* Test memory mapping of kmalloc buffer */
    printf("Testing mmap of kmalloc buffer...\n");
    kmalloc_mapped = mmap(NULL, KMALLOC_SIZE, PROT_READ | PROT_WRITE,
                         MAP_SHARED, fd, 0);
    if (kmalloc_mapped == MAP_FAILED) {
        perror("Failed to map kmalloc memory");
    } else {
        printf("Mapped kmalloc buffer at %p\n", kmalloc_mapped);
        
        /* Write a pattern to the mapped memory */
        unsigned char *ptr = (unsigned char *)kmalloc_mapped;
        for (i = 0; i < 16; i++) {
            ptr[i] = i + 'A';
        }
        ptr[i] = '\0';
        
        printf("Wrote pattern to mapped memory: %s\n", ptr);
        
        /* Unmap the memory */
        munmap(kmalloc_mapped, KMALLOC_SIZE);
    }
    
    /* Test memory mapping of DMA buffer */
    printf("Testing mmap of DMA buffer...\n");
    dma_mapped = mmap(NULL, DMA_SIZE, PROT_READ | PROT_WRITE,
                     MAP_SHARED, fd, KMALLOC_SIZE);
    if (dma_mapped == MAP_FAILED) {
        perror("Failed to map DMA memory");
    } else {
        printf("Mapped DMA buffer at %p\n", dma_mapped);
        
        /* Write a pattern to the mapped memory */
        unsigned char *ptr = (unsigned char *)dma_mapped;
        for (i = 0; i < 16; i++) {
            ptr[i] = i + '0';
        }
        ptr[i] = '\0';
        
        printf("Wrote pattern to mapped DMA memory: %s\n", ptr);
        
        /* Unmap the memory */
        munmap(dma_mapped, DMA_SIZE);
    }
    
    /* Close the device */
    close(fd);
    printf("Device closed\n");
    
    return 0;
}
